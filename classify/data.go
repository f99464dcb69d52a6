package classify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"
)

// Example is one labelled text.
type Example struct {
	Text  string
	Label string
}

// ReadExamples reads JSON lines of the form {"text": "...", "label": ...}
// (the label a string or a number). Blank lines are skipped.
func ReadExamples(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	defer f.Close()
	ex, err := ParseExamples(f)
	if err != nil {
		return nil, fmt.Errorf("classify: %s: %w", path, err)
	}
	return ex, nil
}

// ParseExamples is ReadExamples on a reader.
func ParseExamples(r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var out []Example
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("line %d is not valid UTF-8 (loupe reads UTF-8 text only)", line)
		}
		var rec struct {
			Text  *string         `json:"text"`
			Label json.RawMessage `json:"label"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if rec.Text == nil {
			return nil, fmt.Errorf("line %d: no \"text\" field", line)
		}
		label, err := labelString(rec.Label)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, Example{Text: *rec.Text, Label: label})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no examples")
	}
	return out, nil
}

func labelString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("no \"label\" field")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if _, err := strconv.ParseFloat(string(n), 64); err == nil {
			return string(n), nil
		}
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return strconv.FormatBool(b), nil
	}
	return "", fmt.Errorf("label %s is not a string, number or boolean", raw)
}

// Split returns the texts and the labels of ex.
func Split(ex []Example) (texts, labels []string) {
	texts, labels = make([]string, len(ex)), make([]string, len(ex))
	for i, e := range ex {
		texts[i], labels[i] = e.Text, e.Label
	}
	return texts, labels
}
