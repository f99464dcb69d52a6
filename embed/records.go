package embed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Record is one input text with its optional id and other fields, as read
// by ReadRecords.
type Record struct {
	Text string
	// ID is the JSON "id" field (a json.Number, string, …), or nil when the
	// record has none (text lines never have one).
	ID any
	// Meta holds the other JSON fields (numbers as json.Number), or nil.
	Meta map[string]any
	// Line is the 1-based line the record came from.
	Line int
}

// ReadOptions control ReadRecords. The zero value is ready to use.
type ReadOptions struct {
	// KeepBlank makes a blank line of a text-lines input a record holding
	// the empty text, so that record i is line i+1 (sentence-transformers
	// embeds "" like any other text). Blank lines between JSON lines are
	// always skipped.
	KeepBlank bool
}

// ReadRecords reads texts from r: text lines (every line one text), or
// JSON lines when the first non-blank line starts with '{', each an object
// with a string "text", an optional "id" and other fields kept in Meta.
// Input must be UTF-8. name names r in errors. An input with no text is an
// error.
func ReadRecords(r io.Reader, name string, opts ReadOptions) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var out []Record
	jsonl := false
	first := true
	leading := 0 // blank lines before the first non-blank one
	for line := 1; sc.Scan(); line++ {
		raw := sc.Bytes()
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("%s: line %d is not valid UTF-8 (loupe reads UTF-8 text only)", name, line)
		}
		b := bytes.TrimSpace(raw)
		if first {
			if len(b) == 0 {
				leading++
				continue
			}
			jsonl = b[0] == '{'
			first = false
			if !jsonl && opts.KeepBlank {
				for i := range leading {
					out = append(out, Record{Line: i + 1})
				}
			}
		}
		if !jsonl {
			if len(b) == 0 && !opts.KeepBlank {
				continue
			}
			out = append(out, Record{Text: strings.TrimRight(string(raw), "\r"), Line: line})
			continue
		}
		if len(b) == 0 {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		text, ok := m["text"].(string)
		if !ok {
			return nil, fmt.Errorf("%s: line %d: no string \"text\" field", name, line)
		}
		rec := Record{Text: text, ID: m["id"], Line: line}
		delete(m, "text")
		delete(m, "id")
		if len(m) > 0 {
			rec.Meta = m
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no texts", name)
	}
	return out, nil
}

// ReadRecordsFile is ReadRecords on the file path ("-" is standard input).
// A path ending in .gz is read through gzip.
func ReadRecordsFile(path string, opts ReadOptions) ([]Record, error) {
	if path == "-" {
		return ReadRecords(os.Stdin, "standard input", opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	return ReadRecords(r, path, opts)
}

// Texts returns the texts of recs.
func Texts(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Text
	}
	return out
}

// TextRecords returns records of texts, without ids or metadata.
func TextRecords(texts []string) []Record {
	out := make([]Record, len(texts))
	for i, t := range texts {
		out[i].Text = t
	}
	return out
}

// CheckUTF8 reports the first of texts that is not valid UTF-8, naming it
// by its 1-based position.
func CheckUTF8(texts []string) error {
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return fmt.Errorf("text %d is not valid UTF-8 (loupe reads UTF-8 text only)", i+1)
		}
	}
	return nil
}

// RecordedModel returns the reference to record next to vectors made with
// model ref (in an index, a classifier): a local directory as an absolute
// path, so the record works from any directory; anything else (a hub id)
// as given.
func RecordedModel(ref string) string {
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		if abs, err := filepath.Abs(ref); err == nil {
			return abs
		}
	}
	return ref
}

// Similarity returns the cosine similarity matrix of vecs (0 where a
// vector is zero).
func Similarity(vecs [][]float32) [][]float64 {
	norms := make([]float64, len(vecs))
	for i, v := range vecs {
		norms[i] = math.Sqrt(dot64(v, v))
	}
	sim := make([][]float64, len(vecs))
	for i := range vecs {
		sim[i] = make([]float64, len(vecs))
		for j := range vecs {
			if norms[i] != 0 && norms[j] != 0 {
				sim[i][j] = dot64(vecs[i], vecs[j]) / (norms[i] * norms[j])
			}
		}
	}
	return sim
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
