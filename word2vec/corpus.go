package word2vec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/loupe-ml/loupe/internal/textfiles"
	"io"
	"os"
	"sort"
)

// isSpace marks the bytes that separate tokens: ASCII white space, like
// Python's str.split() on ASCII text.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\v': true, '\f': true, 0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true, 0x85: false}

// corpusFiles returns path itself if it is a file, or the regular files
// under the directory path (recursively, skipping names starting with a
// dot), sorted by path. Files of a directory whose first 8 KiB hold a NUL
// byte are not text: they are left out and returned in skipped.
func corpusFiles(path string) (files, skipped []string, err error) {
	if path == "" {
		return nil, nil, errors.New("word2vec: no corpus given")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("word2vec: corpus: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil, nil
	}
	all, err := textfiles.List(path)
	if err != nil {
		return nil, nil, fmt.Errorf("word2vec: corpus: %w", err)
	}
	for _, p := range all {
		bin, err := hasNUL(p)
		if err != nil {
			return nil, nil, fmt.Errorf("word2vec: corpus: %w", err)
		}
		if bin {
			skipped = append(skipped, p)
		} else {
			files = append(files, p)
		}
	}
	sort.Strings(skipped)
	if len(files) == 0 {
		if len(skipped) > 0 {
			return nil, skipped, fmt.Errorf("word2vec: corpus directory %s has no text files (%d skipped as binary: they contain NUL bytes)", path, len(skipped))
		}
		return nil, nil, fmt.Errorf("word2vec: corpus directory %s has no files", path)
	}
	return files, skipped, nil
}

// hasNUL reports whether the first 8 KiB of the file hold a NUL byte (the
// test git and grep use to tell binary files from text).
func hasNUL(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 8192)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, err
	}
	return bytes.IndexByte(buf[:n], 0) >= 0, nil
}

// forEachToken streams r and calls tok for every token and eol at the end
// of every line. It keeps no more than one buffer in memory.
func forEachToken(r io.Reader, tok func([]byte), eol func()) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var carry []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line := chunk
		if err == bufio.ErrBufferFull {
			// A very long line: keep accumulating, but emit complete
			// tokens as we go so memory stays bounded.
			carry = append(carry, chunk...)
			last := len(carry)
			for last > 0 && !isSpace[carry[last-1]] {
				last--
			}
			emitTokens(carry[:last], tok)
			carry = append(carry[:0], carry[last:]...)
			continue
		}
		if len(carry) > 0 {
			carry = append(carry, chunk...)
			line = carry
		}
		if len(line) > 0 {
			emitTokens(line, tok)
			eol()
		}
		carry = carry[:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func emitTokens(b []byte, tok func([]byte)) {
	i := 0
	for i < len(b) {
		for i < len(b) && isSpace[b[i]] {
			i++
		}
		j := i
		for j < len(b) && !isSpace[b[j]] {
			j++
		}
		if j > i {
			tok(b[i:j])
		}
		i = j
	}
}
