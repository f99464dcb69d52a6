// Package textlines reads the JSON-lines texts of loupe's --input options
// (tokenize, generate): each non-blank line is a JSON string or an object
// with a "text" string and an optional "id" (any JSON value, passed on).
package textlines

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Read calls fn with each text of the file at path, or of stdin
// (os.Stdin when nil) for "-", with its 1-based line number and id.
// Errors name the input (Name) and the line.
func Read(path string, stdin io.Reader, fn func(line int, text string, id json.RawMessage) error) error {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("--input: %w", err)
		}
		defer f.Close()
		r = f
	} else if r == nil {
		r = os.Stdin
	}
	name := Name(path)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return fmt.Errorf("%s line %d is not valid UTF-8 (loupe reads UTF-8 text only)", name, line)
		}
		var text string
		var id json.RawMessage
		if err := json.Unmarshal(b, &text); err != nil {
			var obj struct {
				Text *string         `json:"text"`
				ID   json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(b, &obj); err != nil || obj.Text == nil {
				return fmt.Errorf("%s line %d: want a JSON string or an object with a \"text\" string", name, line)
			}
			text, id = *obj.Text, obj.ID
		}
		if err := fn(line, text, id); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", name, line+1, err)
	}
	return nil
}

// Name names an --input file in messages: "standard input" for "-".
func Name(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}
