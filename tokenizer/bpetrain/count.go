package bpetrain

import (
	"fmt"
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
