package bpetrain

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/loupe-ml/loupe/internal/textfiles"
	"io"
	"os"
	"strings"

	"github.com/loupe-ml/loupe/tokenizer"
)

// Counter counts the words of a corpus: the pre-tokens that GPT-2's
// pattern (tokenizer.PreTokenizeGPT2) splits each text into, as raw bytes.
// Train learns merges from these counts only. A Counter is not safe for
// concurrent use.
type Counter struct {
	words map[string]int64
	total int64
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter { return &Counter{words: make(map[string]int64)} }

// AddText counts the pre-tokens of text, which is pre-tokenised as a whole
// (a text boundary is a word boundary). Invalid UTF-8 is kept as bytes, as
// tokenizer.BPE encodes it.
func (c *Counter) AddText(text string) {
	for _, w := range tokenizer.PreTokenizeGPT2(text) {
		c.AddWord(w, 1)
	}
}

// AddWord counts the pre-token w n times (n > 0; others are ignored).
func (c *Counter) AddWord(w string, n int64) {
	if n <= 0 || w == "" {
		return
	}
	if m, ok := c.words[w]; ok {
		c.words[w] = m + n
	} else {
		c.words[strings.Clone(w)] = n // do not keep the whole text alive
	}
	c.total += n
}

// AddReader counts the pre-tokens of everything r holds, as one text.
func (c *Counter) AddReader(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("bpetrain: %w", err)
	}
	c.AddText(string(b))
	return nil
}

// AddFile counts the pre-tokens of the file at path, as one text.
func (c *Counter) AddFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bpetrain: %w", err)
	}
	c.AddText(string(b))
	return nil
}

// Words returns the number of distinct words counted.
func (c *Counter) Words() int { return len(c.words) }

// Total returns the number of words counted, repeats included.
func (c *Counter) Total() int64 { return c.total }

// AddPath counts the pre-tokens of a file, or of every regular file under a
// directory (recursively, skipping names that start with a dot, in name
// order), each file as one text. Files of a directory that hold a NUL byte
// are not text: they are skipped and returned in skipped. files are the
// files counted.
func (c *Counter) AddPath(path string) (files, skipped []string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("bpetrain: corpus: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil, c.AddFile(path)
	}
	files, err = textfiles.List(path)
	if err != nil {
		return nil, nil, fmt.Errorf("bpetrain: corpus: %w", err)
	}
	var read []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return read, skipped, fmt.Errorf("bpetrain: %w", err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			skipped = append(skipped, f)
			continue
		}
		c.AddText(string(b))
		read = append(read, f)
	}
	if len(read) == 0 {
		return nil, skipped, errors.New("bpetrain: corpus directory " + path + " has no text files")
	}
	return read, skipped, nil
}
