package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// textLines reads the JSON-lines input of --input options (tokenize,
// generate; embed's readTexts takes text lines or objects but no JSON
// strings): each non-blank line is a JSON string or an object with a
// "text" string and an optional "id" (any JSON value, passed on). fn gets
// each text with its 1-based line number. Errors start with cmd and name
// the input (name) and the line.
func textLines(r io.Reader, cmd, name string, fn func(line int, text string, id json.RawMessage) error) error {
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
			return fmt.Errorf("%s: %s line %d is not valid UTF-8 (loupe reads UTF-8 text only)", cmd, name, line)
		}
		var text string
		var id json.RawMessage
		if err := json.Unmarshal(b, &text); err != nil {
			var obj struct {
				Text *string         `json:"text"`
				ID   json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(b, &obj); err != nil || obj.Text == nil {
				return fmt.Errorf("%s: %s line %d: want a JSON string or an object with a \"text\" string", cmd, name, line)
			}
			text, id = *obj.Text, obj.ID
		}
		if err := fn(line, text, id); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %s line %d: %w", cmd, name, line+1, err)
	}
	return nil
}

// readInput runs textLines over the --input file at path, or over stdin
// (os.Stdin when nil) for "-".
func readInput(path string, stdin io.Reader, cmd string, fn func(line int, text string, id json.RawMessage) error) error {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("%s: --input: %w", cmd, err)
		}
		defer f.Close()
		r = f
	} else if r == nil {
		r = os.Stdin
	}
	return textLines(r, cmd, inputName(path), fn)
}

// inputName names an --input file in messages.
func inputName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}
