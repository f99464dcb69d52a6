package tokenizer

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseVocabJSON decodes a vocab.json, a flat JSON object of token → id. The
// common layout is scanned directly, several times faster than
// encoding/json; anything unexpected (a lone surrogate, invalid UTF-8, a
// number that is not an integer, a syntax error) falls back to
// json.Unmarshal, so results and errors are encoding/json's.
func parseVocabJSON(data []byte) (map[string]int, error) {
	if v, ok := scanVocabJSON(string(data)); ok {
		return v, nil
	}
	var v map[string]int
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func scanVocabJSON(s string) (map[string]int, bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil, false
	}
	v := make(map[string]int, len(s)/16)
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return v, skipSpace(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		j, esc := i+1, false
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				esc = true
				j++
			} else if s[j] < 0x20 {
				return nil, false
			}
			j++
		}
		if j >= len(s) {
			return nil, false
		}
		key, ok := s[i+1:j], true
		if !utf8.ValidString(key) {
			return nil, false // encoding/json would replace invalid bytes
		}
		if esc {
			if key, ok = unescapeJSON(key); !ok {
				return nil, false
			}
		}
		i = skipSpace(s, j+1)
		if i >= len(s) || s[i] != ':' {
			return nil, false
		}
		i = skipSpace(s, i+1)
		k := i
		if k < len(s) && s[k] == '-' {
			k++
		}
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		id, err := strconv.Atoi(s[i:k])
		if err != nil || (k-i > 1 && s[i] == '0') {
			return nil, false
		}
		v[key] = id
		i = skipSpace(s, k)
		if i >= len(s) {
			return nil, false
		}
		if s[i] == '}' {
			return v, skipSpace(s, i+1) == len(s)
		}
		if s[i] != ',' {
			return nil, false
		}
		i = skipSpace(s, i+1)
	}
}

// unescapeJSON decodes the escapes of a JSON string body. ok is false for a
// bad escape or a lone surrogate (which encoding/json would replace).
func unescapeJSON(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			b = append(b, s[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 >= len(s) || s[i+1] != '\\' || s[i+2] != 'u' {
					return "", false
				}
				r2, ok := hex4(s, i+3)
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", false
				}
				i += 6
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return string(b), true
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+4], 16, 32)
	return rune(v), err == nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}
