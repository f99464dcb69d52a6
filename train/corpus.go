package train

import (
	"bytes"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/internal/textfiles"
	"github.com/loupe-ml/loupe/tokenizer"
)

// Documents says how text files are split into documents: "files" (each
// file is one document) or "lines" (each non-empty line is one).
type Documents string

// The ways of splitting files into documents.
const (
	DocumentFiles Documents = "files"
	DocumentLines Documents = "lines"
)

// TokenizeFiles reads text files (a directory stands for the files under
// it, recursively, in name order, hidden ones left out), splits them into
// documents and returns
// one token stream: each document's tokens followed by eot (the
// end-of-text id; nanoGPT's data preparation does the same). Special
// tokens written in the text stay plain text. Documents are encoded in
// parallel; the stream's order is the files' and lines' order. progress,
// when not nil, is called with the bytes encoded so far.
func TokenizeFiles(tok tokenizer.Tokenizer, paths []string, docs Documents, eot int, progress func(done, total int64)) ([]int32, error) {
	if docs != DocumentFiles && docs != DocumentLines {
		return nil, fmt.Errorf("train: documents %q: want files or lines", docs)
	}
	if eot < 0 || eot >= tok.VocabSize() {
		return nil, fmt.Errorf("train: end-of-text id %d is outside the tokenizer's vocabulary of %d", eot, tok.VocabSize())
	}
	var files []string
	for _, p := range paths {
		fs, err := textfiles.List(p)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		files = append(files, fs...)
	}
	var texts [][]byte
	var total int64
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("train: %s is not UTF-8 text", p)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			return nil, fmt.Errorf("train: %s holds NUL bytes: not a text file", p)
		}
		total += int64(len(b))
		if docs == DocumentFiles {
			if len(b) > 0 {
				texts = append(texts, b)
			}
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(bytes.TrimSpace(line)) > 0 {
				texts = append(texts, line)
			}
		}
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("train: no text in %d file(s)", len(paths))
	}
	enc := make([][]int, len(texts))
	var done int64
	for lo := 0; lo < len(texts); lo += 1024 {
		hi := min(len(texts), lo+1024)
		kernels.Parallel(hi-lo, 1, func(a, b int) {
			for i := lo + a; i < lo+b; i++ {
				enc[i] = tok.EncodeText(string(texts[i]), tokenizer.EncodeOptions{}).IDs
			}
		})
		for i := lo; i < hi; i++ {
			done += int64(len(texts[i]))
		}
		if progress != nil {
			progress(done, total)
		}
	}
	n := 0
	for _, e := range enc {
		n += len(e) + 1
	}
	out := make([]int32, 0, n)
	for _, e := range enc {
		for _, id := range e {
			out = append(out, int32(id))
		}
		out = append(out, int32(eot))
	}
	return out, nil
}

// EndOfText returns the id of tok's "<|endoftext|>" token, or -1 when it
// has none.
func EndOfText(tok tokenizer.Tokenizer) int {
	e := tok.EncodeText("<|endoftext|>", tokenizer.EncodeOptions{AllowSpecial: true})
	if len(e.IDs) == 1 && tok.Token(e.IDs[0]) == "<|endoftext|>" {
		return e.IDs[0]
	}
	return -1
}
