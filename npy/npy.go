package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// magic opens every .npy file.
const magic = "\x93NUMPY"

// maxHeader bounds the header length we accept, so a corrupt length field
// cannot make us allocate gigabytes.
const maxHeader = 1 << 20

// Header is the parsed header of a .npy file.
type Header struct {
	Major, Minor int    // format version (1.0, 2.0 or 3.0)
	Descr        string // dtype descriptor, e.g. "<f4"
	FortranOrder bool
	Shape        []int
	DataOffset   int // byte offset of the array data
}

// ReadFloat32 reads a 2-D float32 (or float64, converted) C-order .npy file
// and returns its values row-major with the number of rows and columns.
func ReadFloat32(path string) (data []float32, rows, cols int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("npy: %w", err)
	}
	data, rows, cols, err = DecodeFloat32(b)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("npy: %s: %w", path, err)
	}
	return data, rows, cols, nil
}

// DecodeFloat32 is ReadFloat32 for the bytes of a .npy file already in memory.
// Its errors carry no file name or package prefix.
func DecodeFloat32(b []byte) (data []float32, rows, cols int, err error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, 0, 0, err
	}
	var size int
	switch h.Descr {
	case "<f4", "f4", "float32":
		size = 4
	case "<f8", "f8", "float64":
		size = 8
	default:
		return nil, 0, 0, fmt.Errorf("dtype %q is not supported: want little-endian float32 '<f4' or float64 '<f8'", h.Descr)
	}
	if h.FortranOrder {
		return nil, 0, 0, errors.New("fortran_order is True: want a C-order array (numpy.ascontiguousarray)")
	}
	if len(h.Shape) != 2 {
		return nil, 0, 0, fmt.Errorf("shape %s is %d-D: want a 2-D array (rows, columns)", shapeString(h.Shape), len(h.Shape))
	}
	rows, cols = h.Shape[0], h.Shape[1]
	n := rows * cols
	if cols != 0 && n/cols != rows || n > math.MaxInt/8 {
		return nil, 0, 0, fmt.Errorf("shape %s is too large", shapeString(h.Shape))
	}
	body := b[h.DataOffset:]
	if need := n * size; len(body) < need {
		return nil, 0, 0, fmt.Errorf("truncated: shape %s of %s needs %d data bytes, file has %d", shapeString(h.Shape), h.Descr, need, len(body))
	}
	data = make([]float32, n)
	if size == 4 {
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
		}
	} else {
		for i := range data {
			data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:])))
		}
	}
	return data, rows, cols, nil
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// ParseHeader parses the magic, version and header dictionary at the start of
// a .npy file.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < 10 || string(b[:6]) != magic {
		return h, errors.New("not a .npy file: missing the \\x93NUMPY magic")
	}
	h.Major, h.Minor = int(b[6]), int(b[7])
	var hlen, start int
	switch h.Major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:])), 10
	case 2, 3:
		if len(b) < 12 {
			return h, errors.New("truncated header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(b[8:])), 12
	default:
		return h, fmt.Errorf("format version %d.%d is not supported: want 1.0, 2.0 or 3.0", h.Major, h.Minor)
	}
	if hlen > maxHeader {
		return h, fmt.Errorf("header length %d is larger than %d bytes", hlen, maxHeader)
	}
	if len(b) < start+hlen {
		return h, fmt.Errorf("truncated header: length field says %d bytes, file has %d", hlen, len(b)-start)
	}
	h.DataOffset = start + hlen
	if err := parseDict(string(b[start:start+hlen]), &h); err != nil {
		return h, fmt.Errorf("header: %w", err)
	}
	return h, nil
}

// parseDict parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseDict(s string, h *Header) error {
	p := &lit{s: strings.TrimRight(s, " \n\x00")}
	p.space()
	if !p.eat('{') {
		return errors.New("want a dict starting with '{'")
	}
	seen := map[string]bool{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		p.space()
		if !p.eat(':') {
			return fmt.Errorf("want ':' after key %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if h.Descr, err = p.str(); err != nil {
				return fmt.Errorf("descr: %w (structured dtypes are not supported)", err)
			}
		case "fortran_order":
			switch {
			case strings.HasPrefix(p.s[p.i:], "True"):
				h.FortranOrder, p.i = true, p.i+4
			case strings.HasPrefix(p.s[p.i:], "False"):
				h.FortranOrder, p.i = false, p.i+5
			default:
				return errors.New("fortran_order: want True or False")
			}
		case "shape":
			if h.Shape, err = p.tuple(); err != nil {
				return fmt.Errorf("shape: %w", err)
			}
		default:
			return fmt.Errorf("unexpected key %q", key)
		}
		seen[key] = true
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return errors.New("want ',' or '}'")
		}
		break
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return fmt.Errorf("missing key %q", k)
		}
	}
	return nil
}

type lit struct {
	s string
	i int
}

func (p *lit) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *lit) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *lit) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("want a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *lit) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("want a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		// Python 2 era files may write long integers as 3L.
		v, err := strconv.Atoi(p.s[p.i:j])
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad dimension %q", p.s[p.i:min(j+1, len(p.s))])
		}
		p.i = j
		p.eat('L')
		shape = append(shape, v)
		if len(shape) > 32 {
			return nil, errors.New("more than 32 dimensions")
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, errors.New("want ',' or ')'")
			}
			return shape, nil
		}
	}
}

// WriteFloat32 writes data as a rows×cols float32 .npy file (version 1.0,
// C order), atomically.
func WriteFloat32(path string, data []float32, rows, cols int) error {
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy: write %s: %d values do not make a %d×%d array", path, len(data), rows, cols)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		return Encode(w, data, rows, cols)
	})
}

// Encode writes data as a rows×cols float32 .npy stream (version 1.0).
func Encode(w io.Writer, data []float32, rows, cols int) error {
	if len(data) != rows*cols {
		return fmt.Errorf("npy: %d values do not make a %d×%d array", len(data), rows, cols)
	}
	if err := EncodeHeader(w, rows, cols); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// EncodeHeader writes the header of a rows×cols float32 .npy stream
// (version 1.0, C order), the bytes Encode writes before the data: a
// caller that has the rows in pieces writes them after it, little-endian,
// row by row.
func EncodeHeader(w io.Writer, rows, cols int) error {
	if rows < 0 || cols < 0 {
		return fmt.Errorf("npy: shape (%d, %d) is negative", rows, cols)
	}
	return writeHeader(w, fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols))
}

// writeHeader writes the magic, version 1.0 and the header dictionary,
// padded with spaces and a newline so that the data starts on a 64-byte
// boundary.
func writeHeader(w io.Writer, dict string) error {
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	var hdr bytes.Buffer
	hdr.WriteString(magic)
	hdr.Write([]byte{1, 0})
	hlen := len(dict) + pad + 1
	if hlen > math.MaxUint16 {
		return errors.New("npy: header too long")
	}
	binary.Write(&hdr, binary.LittleEndian, uint16(hlen))
	hdr.WriteString(dict)
	hdr.WriteString(strings.Repeat(" ", pad))
	hdr.WriteByte('\n')
	_, err := w.Write(hdr.Bytes())
	return err
}

// ReadFvecs reads an .fvecs file and returns its vectors row-major with the
// number of vectors and their dimension.
func ReadFvecs(path string) ([]float32, int, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("npy: %w", err)
	}
	data, rows, cols, err := DecodeFvecs(b)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("npy: %s: %w", path, err)
	}
	return data, rows, cols, nil
}

// DecodeFvecs is ReadFvecs for bytes already in memory.
func DecodeFvecs(b []byte) ([]float32, int, int, error) {
	if len(b) == 0 {
		return nil, 0, 0, errors.New("empty .fvecs file")
	}
	if len(b) < 4 {
		return nil, 0, 0, errors.New("truncated: no dimension field")
	}
	d := int(int32(binary.LittleEndian.Uint32(b)))
	if d <= 0 || d > 1<<20 {
		return nil, 0, 0, fmt.Errorf("vector 0: dimension %d is not in 1..%d", d, 1<<20)
	}
	rec := 4 + 4*d
	if len(b)%rec != 0 {
		return nil, 0, 0, fmt.Errorf("truncated: %d bytes is not a whole number of %d-byte records (dimension %d)", len(b), rec, d)
	}
	n := len(b) / rec
	data := make([]float32, n*d)
	for i := 0; i < n; i++ {
		r := b[i*rec:]
		if di := int(int32(binary.LittleEndian.Uint32(r))); di != d {
			return nil, 0, 0, fmt.Errorf("vector %d: dimension %d differs from the first vector's %d", i, di, d)
		}
		for j := 0; j < d; j++ {
			data[i*d+j] = math.Float32frombits(binary.LittleEndian.Uint32(r[4+4*j:]))
		}
	}
	return data, n, d, nil
}

// WriteFvecs writes rows vectors of dimension cols as an .fvecs file,
// atomically.
func WriteFvecs(path string, data []float32, rows, cols int) error {
	if rows < 0 || cols <= 0 || len(data) != rows*cols {
		return fmt.Errorf("npy: write %s: %d values do not make %d vectors of dimension %d", path, len(data), rows, cols)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		buf := make([]byte, 0, 4+4*cols)
		for i := 0; i < rows; i++ {
			buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(cols))
			for _, v := range data[i*cols : (i+1)*cols] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// Read reads vectors from a .npy or .fvecs file, chosen by the extension
// (.fvecs for the latter, anything else is read as .npy).
func Read(path string) ([]float32, int, int, error) {
	if strings.HasSuffix(strings.ToLower(path), ".fvecs") {
		return ReadFvecs(path)
	}
	return ReadFloat32(path)
}

// WriteFloat32Shape writes data as a C-order float32 .npy array of the given
// shape (any number of dimensions, for example [batch, channels, height,
// width] latents), atomically.
func WriteFloat32Shape(path string, data []float32, shape []int) error {
	if err := checkShape(len(data), shape); err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		return EncodeShape(w, data, shape)
	})
}

// EncodeShape writes data as a C-order float32 .npy array of the given shape.
func EncodeShape(w io.Writer, data []float32, shape []int) error {
	if err := checkShape(len(data), shape); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := writeHeader(w, fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shapeString(shape))); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

func checkShape(n int, shape []int) error {
	size := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("shape %s is negative", shapeString(shape))
		}
		size *= d
	}
	if size != n {
		return fmt.Errorf("%d values do not make an array of shape %s", n, shapeString(shape))
	}
	return nil
}
