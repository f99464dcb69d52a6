package word2vec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// Format selects the word2vec file format.
type Format int

const (
	// FormatAuto detects the format from the content (Load and Read; see
	// Read), with a .txt or .vec name meaning text for Load.
	FormatAuto Format = iota
	// FormatText is one line per word: the word then Dim decimal numbers,
	// separated by single spaces.
	FormatText
	// FormatBinary is the word, a space, then Dim little-endian float32s,
	// optionally followed by a newline (the C tool writes one, gensim not).
	FormatBinary
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatText:
		return "text"
	case FormatBinary:
		return "binary"
	}
	return "auto"
}

// ParseFormat maps a format name to a Format: "auto" or "", "binary" or
// "bin", "text" or "txt".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "auto", "":
		return FormatAuto, nil
	case "binary", "bin":
		return FormatBinary, nil
	case "text", "txt":
		return FormatText, nil
	}
	return 0, fmt.Errorf("word2vec: unknown vectors format %q: want auto, binary or text", s)
}

// maxWordBytes bounds the length of one word in a file, so a corrupt binary
// file without spaces fails quickly instead of exhausting memory.
const maxWordBytes = 1 << 16

// Load reads a word2vec file in the given format. Both start with the
// header "N D\n" (N words of D dimensions). FormatAuto decides by content
// (see Read), except that a .txt or .vec name means text unless the text
// reader fails and the content is clearly binary. If limit > 0 only the
// first limit words are read, like gensim's limit argument. Values must be
// finite: a NaN or infinity is an error naming the row and the word.
func Load(path string, format Format, limit int) (*Vectors, error) {
	if format != FormatAuto {
		return load(path, format, limit)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt", ".vec":
		format = FormatText
	}
	v, err := load(path, format, limit)
	if err == nil || format == FormatAuto {
		return v, err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, err
	}
	// A binary file named .txt: retry as binary only if the content says
	// so (binary reading is permissive: a broken text file must get the
	// text reader's error).
	other, derr := detectFile(path)
	if derr != nil || other == format {
		return nil, err
	}
	if v2, err2 := load(path, other, limit); err2 == nil {
		return v2, nil
	}
	return nil, err
}

// detectFile runs the content detection on path.
func detectFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<17)
	line, err := readLine(br)
	if err != nil {
		return 0, err
	}
	fields := bytes.Fields(line)
	if len(fields) != 2 {
		return 0, errors.New("bad header")
	}
	dim, err := strconv.Atoi(string(fields[1]))
	if err != nil || dim <= 0 || dim > 1<<20 {
		return 0, errors.New("bad header")
	}
	return detect(br, dim), nil
}

func load(path string, format Format, limit int) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("word2vec: %w", err)
	}
	defer f.Close()
	var size int64 = -1
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	v, err := read(bufio.NewReaderSize(f, 1<<20), format, limit, size)
	if err != nil {
		return nil, fmt.Errorf("word2vec: %s: %w", path, err)
	}
	return v, nil
}

// Read reads word2vec data from r; see Load. FormatAuto decides by
// content: the data is text when every complete line of the first 64 KiB
// after the header is a word and exactly D decimal numbers, or when the
// 4·D bytes after the first word hold only characters of decimal numbers
// and white space (a damaged text file then gets the text reader's error
// naming the row); otherwise it is binary.
// Errors are not prefixed with a file name.
func Read(r io.Reader, format Format, limit int) (*Vectors, error) {
	v, err := read(bufio.NewReader(r), format, limit, -1)
	if err != nil {
		return nil, fmt.Errorf("word2vec: %w", err)
	}
	return v, nil
}

func read(br *bufio.Reader, format Format, limit int, size int64) (*Vectors, error) {
	line, err := readLine(br)
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("empty file: want a header \"N D\" (word count, dimension)")
		}
		return nil, fmt.Errorf("header: %w", err)
	}
	fields := bytes.Fields(line)
	if len(fields) != 2 {
		return nil, fmt.Errorf("header %q: want two integers \"N D\" (word count, dimension)", truncate(line))
	}
	n, err1 := strconv.Atoi(string(fields[0]))
	dim, err2 := strconv.Atoi(string(fields[1]))
	if err1 != nil || err2 != nil || n < 0 || dim <= 0 {
		return nil, fmt.Errorf("header %q: want two integers \"N D\" with N >= 0 and D > 0", truncate(line))
	}
	if dim > 1<<20 {
		return nil, fmt.Errorf("header %q: dimension %d is implausibly large", truncate(line), dim)
	}
	want := n
	if limit > 0 && limit < n {
		want = limit
	}
	if format == FormatAuto {
		format = detect(br, dim)
	}
	if format == FormatBinary && size >= 0 && int64(n)*int64(4*dim+2) > size+int64(n) {
		// Each binary row needs at least a one-byte word, a space and
		// 4·D bytes; the newline is optional.
		return nil, fmt.Errorf("header says %d words of dimension %d (at least %d bytes) but the file has %d bytes: truncated or not the binary format", n, dim, int64(n)*int64(4*dim+2), size)
	}
	capRows := want
	if capRows > 1<<16 {
		capRows = 1 << 16
	}
	// Preallocate from the header only up to a bound: a corrupt header must
	// not reserve gigabytes before the rows prove to be there.
	capData := min(capRows*dim, 1<<22)
	words := make([]string, 0, capRows)
	data := make([]float32, 0, capData)
	index := make(map[string]int, capRows)
	add := func(w string, row int) error {
		if j, dup := index[w]; dup {
			return fmt.Errorf("row %d: duplicate word %q (first at row %d)", row+1, w, j+1)
		}
		index[w] = row
		words = append(words, w)
		return nil
	}
	switch format {
	case FormatBinary:
		buf := make([]byte, 4*dim)
		for i := 0; i < want; i++ {
			w, err := readBinaryWord(br)
			if err != nil {
				return nil, fmt.Errorf("row %d of %d: %w", i+1, n, err)
			}
			if _, err := io.ReadFull(br, buf); err != nil {
				return nil, fmt.Errorf("row %d of %d (word %q): truncated: want %d float32 values (%d bytes)", i+1, n, w, dim, 4*dim)
			}
			if err := add(w, i); err != nil {
				return nil, err
			}
			for j := 0; j < dim; j++ {
				x := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
				if err := finite(x, i, w, j); err != nil {
					return nil, err
				}
				data = append(data, x)
			}
		}
	case FormatText:
		for i := 0; i < want; i++ {
			line, err := readLine(br)
			if err != nil {
				if err == io.EOF {
					return nil, fmt.Errorf("truncated: header says %d words, file ends after %d", n, i)
				}
				return nil, fmt.Errorf("row %d: %w", i+1, err)
			}
			line = bytes.TrimRight(line, " \t\r\n\v\f")
			sp := bytes.IndexByte(line, ' ')
			if sp <= 0 {
				return nil, fmt.Errorf("row %d: %q: want a word then %d numbers (is this really the text format?)", i+1, truncate(line), dim)
			}
			w := string(line[:sp])
			rest := line[sp+1:]
			got := 0
			for len(rest) > 0 {
				j := bytes.IndexByte(rest, ' ')
				var tok []byte
				if j < 0 {
					tok, rest = rest, nil
				} else {
					tok, rest = rest[:j], rest[j+1:]
				}
				got++
				if got > dim {
					continue
				}
				f, err := strconv.ParseFloat(string(tok), 32)
				if err != nil {
					return nil, fmt.Errorf("row %d (word %q): value %d %q is not a number", i+1, w, got, truncate(tok))
				}
				if err := finite(float32(f), i, w, got-1); err != nil {
					return nil, err
				}
				data = append(data, float32(f))
			}
			if got != dim {
				return nil, fmt.Errorf("row %d (word %q): %d values, want %d (the header's dimension)", i+1, w, got, dim)
			}
			if err := add(w, i); err != nil {
				return nil, err
			}
		}
	}
	return &Vectors{Words: words, Dim: dim, Data: data, index: index}, nil
}

// finite rejects NaN and ±Inf: they would silently poison every cosine.
func finite(x float32, row int, word string, col int) error {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return fmt.Errorf("row %d (word %q): value %d is %v: vectors must be finite", row+1, word, col+1, x)
	}
	return nil
}

// detect decides by content; see Read.
func detect(br *bufio.Reader, dim int) Format {
	peek, _ := br.Peek(max(1<<16, 64+24*dim))
	all := peek
	lines := 0
	for len(peek) > 0 {
		nl := bytes.IndexByte(peek, '\n')
		if nl < 0 {
			break // an incomplete line proves nothing
		}
		if !isTextRow(peek[:nl], dim) {
			return textChars(all, dim)
		}
		lines++
		peek = peek[nl+1:]
	}
	if lines == 0 && !isTextRow(peek, dim) {
		return textChars(all, dim)
	}
	return FormatText
}

// textChars looks at the 4·dim bytes after the first space: text if they
// are all characters of decimal numbers and white space.
func textChars(peek []byte, dim int) Format {
	sp := bytes.IndexByte(peek, ' ')
	if sp < 0 {
		return FormatText
	}
	rest := peek[sp+1:]
	if len(rest) > 4*dim {
		rest = rest[:4*dim]
	}
	for _, c := range rest {
		switch {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E', c == ' ', c == '\t', c == '\n', c == '\r',
			c == 'n', c == 'a', c == 'i', c == 'f', c == 'N', c == 'I', c == 'A', c == 'F', c == 't', c == 'y', c == 'T', c == 'Y':
		default:
			return FormatBinary
		}
	}
	return FormatText
}

// isTextRow reports whether line is "word v1 … vdim" with decimal values.
func isTextRow(line []byte, dim int) bool {
	f := bytes.Fields(line)
	if len(f) != dim+1 {
		return false
	}
	for _, tok := range f[1:] {
		if _, err := strconv.ParseFloat(string(tok), 32); err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return false
			}
		}
	}
	return true
}

// readBinaryWord reads bytes up to a space, skipping newlines (left by the
// C tool after each vector).
func readBinaryWord(br *bufio.Reader) (string, error) {
	var w []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF {
				if len(w) == 0 {
					return "", errors.New("truncated: file ends before the word")
				}
				return "", fmt.Errorf("truncated: file ends inside word %q", truncate(w))
			}
			return "", err
		}
		if c == ' ' {
			if len(w) == 0 {
				return "", errors.New("empty word")
			}
			return string(w), nil
		}
		if c == '\n' && len(w) == 0 {
			continue
		}
		w = append(w, c)
		if len(w) > maxWordBytes {
			return "", fmt.Errorf("word longer than %d bytes: not the binary format, or corrupt", maxWordBytes)
		}
	}
}

// readLine returns the next line without its newline; io.EOF only when no
// bytes remain.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			if len(line) > 1<<28 {
				return nil, errors.New("line longer than 256 MiB")
			}
			continue
		}
		if err == io.EOF {
			if len(line) == 0 {
				return nil, io.EOF
			}
			return line, nil
		}
		if err != nil {
			return nil, err
		}
		return line[:len(line)-1], nil
	}
}

func truncate(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// Write writes v to w in the text or binary format. Binary rows end with a
// newline as the C tool writes them (gensim reads both); text values are
// the shortest decimal that reads back to the same float32.
func (v *Vectors) Write(w io.Writer, format Format) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "%d %d\n", len(v.Words), v.Dim)
	var num []byte
	b4 := make([]byte, 4*v.Dim)
	for i, word := range v.Words {
		row := v.row(i)
		bw.WriteString(word)
		bw.WriteByte(' ')
		if format == FormatBinary {
			for j, x := range row {
				binary.LittleEndian.PutUint32(b4[4*j:], math.Float32bits(x))
			}
			bw.Write(b4)
			bw.WriteByte('\n')
			continue
		}
		for j, x := range row {
			if j > 0 {
				bw.WriteByte(' ')
			}
			num = strconv.AppendFloat(num[:0], float64(x), 'g', -1, 32)
			bw.Write(num)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// SaveFormat is the format Save writes for format: FormatAuto means text
// for a name ending in .txt or .vec (as Load reads them) and binary
// otherwise.
func SaveFormat(path string, format Format) Format {
	if format != FormatAuto {
		return format
	}
	if strings.HasSuffix(path, ".txt") || strings.HasSuffix(path, ".vec") {
		return FormatText
	}
	return FormatBinary
}

// Save writes v to path atomically (temporary file, fsync, rename), in
// SaveFormat(path, format).
func (v *Vectors) Save(path string, format Format) error {
	format = SaveFormat(path, format)
	if err := atomicfile.Write(path, func(w io.Writer) error { return v.Write(w, format) }); err != nil {
		return fmt.Errorf("word2vec: %w", err)
	}
	return nil
}
