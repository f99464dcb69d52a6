package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/internal/mmapfile"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (the
// reference implementation's limit).
const MaxHeaderSize = 100_000_000

// ErrFormat is wrapped by every error that reports a malformed file, for
// errors.Is.
var ErrFormat = errors.New("invalid safetensors file")

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType string // "F32", "F16", "BF16", "I64", ...
	Shape []int
}

// entry is a validated header entry: its info and the absolute byte range of
// its data in File.buf.
type entry struct {
	info       Info
	begin, end int
}

// File is an open safetensors file. Its methods are safe for concurrent use
// until Close.
type File struct {
	path    string
	buf     []byte // the whole file
	unmap   func() error
	entries map[string]*entry
	names   []string
	meta    map[string]string
}

// Open maps the safetensors file at path into memory and validates its
// header. The file stays mapped until Close; slices returned by Float32 and
// Bytes point into the mapping and must not be used after Close.
func Open(path string) (*File, error) {
	buf, unmap, err := mmapfile.Map(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(path, buf)
	if err != nil {
		if unmap != nil {
			unmap()
		}
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Parse validates b, the bytes of a whole safetensors file, and returns a
// File reading from b without copying it. name is used in error messages.
func Parse(name string, b []byte) (*File, error) {
	return parse(name, b)
}

// Evict gives the mapped file's pages back to the operating system: they
// leave the process's resident memory and are read again, from the page
// cache or the disk, when next used. Slices obtained from the file stay
// valid, but what was written into them is lost. A file read into memory
// (where it could not be mapped) is left alone.
func (f *File) Evict() error {
	if f == nil || f.unmap == nil {
		return nil
	}
	if err := mmapfile.Evict(f.buf); err != nil {
		return fmt.Errorf("safetensors: evict %s: %w", f.path, err)
	}
	return nil
}

// Close releases the mapping. Slices obtained from the file become invalid.
func (f *File) Close() error {
	if f == nil {
		return nil
	}
	var err error
	if f.unmap != nil {
		err = f.unmap()
		f.unmap = nil
	}
	f.buf = nil
	f.entries = nil
	if err != nil {
		return fmt.Errorf("safetensors: close %s: %w", f.path, err)
	}
	return nil
}

// Path returns the name the file was opened with.
func (f *File) Path() string { return f.path }

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the description of the named tensor, and false if the file
// has no such tensor.
func (f *File) Info(name string) (Info, bool) {
	e, ok := f.entries[name]
	if !ok {
		return Info{}, false
	}
	info := e.info
	info.Shape = slices.Clone(info.Shape)
	return info, true
}

// Metadata returns a copy of the file's __metadata__ map (empty, not nil,
// when the file has none).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

func (f *File) lookup(name string) (*entry, error) {
	if f.entries == nil {
		return nil, fmt.Errorf("safetensors: %s: file is closed", f.path)
	}
	e, ok := f.entries[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: no tensor %q", f.path, name)
	}
	return e, nil
}

// Bytes returns the raw little-endian bytes of the named tensor, pointing
// into the mapping (do not modify them).
func (f *File) Bytes(name string) ([]byte, error) {
	e, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.buf[e.begin:e.end:e.end], nil
}

// Float32 returns the named tensor's values as float32, row-major. F32 data
// is returned in place, without a copy, when it is 4-byte aligned on a
// little-endian machine (otherwise it is copied); writes to that slice stay
// private to the process (the mapping is copy-on-write) but are visible to
// later Float32 calls. F16 and BF16 data is converted exactly into a new
// slice. Other dtypes are an error naming the file and the tensor.
func (f *File) Float32(name string) ([]float32, error) {
	e, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if out, ok := ToFloat32(e.info.DType, f.buf[e.begin:e.end]); ok {
		return out, nil
	}
	return nil, fmt.Errorf("safetensors: %s: tensor %q has dtype %s; want F32, F16 or BF16", f.path, name, e.info.DType)
}

// headerEntry is one tensor's JSON description.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

func formatErr(path, format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrFormat)
}

// parse validates the header of buf, a whole file, and indexes its tensors.
func parse(path string, buf []byte) (*File, error) {
	if len(buf) < 8 {
		return nil, formatErr(path, "file is %d bytes, too short for the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > MaxHeaderSize {
		return nil, formatErr(path, "header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(buf)-8) {
		return nil, formatErr(path, "header length %d exceeds the %d bytes that follow it (truncated file?)", n, len(buf)-8)
	}
	hdr := buf[8 : 8+n]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr(path, "header does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, formatErr(path, "header is not valid UTF-8")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, formatErr(path, "header is not a JSON object: %v", err)
	}
	dataStart := 8 + int(n)
	dataLen := uint64(len(buf) - dataStart)
	f := &File{path: path, buf: buf, entries: make(map[string]*entry, len(raw))}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.meta); err != nil {
				return nil, formatErr(path, "__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		e, err := parseEntry(path, name, msg, dataLen)
		if err != nil {
			return nil, err
		}
		e.begin += dataStart
		e.end += dataStart
		f.entries[name] = e
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	if err := checkTiling(path, f, dataStart, dataLen); err != nil {
		return nil, err
	}
	return f, nil
}

func parseEntry(path, name string, msg json.RawMessage, dataLen uint64) (*entry, error) {
	var h headerEntry
	d := json.NewDecoder(bytes.NewReader(msg))
	if err := d.Decode(&h); err != nil {
		return nil, formatErr(path, "tensor %q: %v", name, err)
	}
	if h.DType == nil {
		return nil, formatErr(path, "tensor %q: no dtype", name)
	}
	if h.Shape == nil {
		return nil, formatErr(path, "tensor %q: no shape", name)
	}
	if len(h.DataOffsets) != 2 {
		return nil, formatErr(path, "tensor %q: data_offsets has %d values, want 2", name, len(h.DataOffsets))
	}
	size, ok := dtypeSizes[*h.DType]
	if !ok {
		return nil, formatErr(path, "tensor %q: unsupported dtype %q", name, *h.DType)
	}
	shape := make([]int, len(h.Shape))
	elems := uint64(1)
	overflow := false
	for i, d := range h.Shape {
		if d < 0 {
			return nil, formatErr(path, "tensor %q: negative dimension %d in shape %v", name, d, h.Shape)
		}
		hi, lo := bits.Mul64(elems, uint64(d))
		if hi != 0 || uint64(d) > math.MaxInt {
			overflow = true
		}
		elems = lo
		shape[i] = int(d)
	}
	hi, nbytes := bits.Mul64(elems, uint64(size))
	if overflow || hi != 0 || nbytes > math.MaxInt {
		return nil, formatErr(path, "tensor %q: shape %v is too large", name, h.Shape)
	}
	begin, end := h.DataOffsets[0], h.DataOffsets[1]
	if begin > end {
		return nil, formatErr(path, "tensor %q: data_offsets [%d, %d) run backwards", name, begin, end)
	}
	if end > dataLen {
		return nil, formatErr(path, "tensor %q: data_offsets [%d, %d) run past the %d-byte data section", name, begin, end, dataLen)
	}
	if end-begin != nbytes {
		return nil, formatErr(path, "tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d) hold %d", name, h.Shape, *h.DType, nbytes, begin, end, end-begin)
	}
	return &entry{info: Info{Name: name, DType: *h.DType, Shape: shape}, begin: int(begin), end: int(end)}, nil
}

// checkTiling checks that the tensors cover the data section exactly: sorted
// by offset, each starts where the previous one ended, and the last ends at
// the end of the file.
func checkTiling(path string, f *File, dataStart int, dataLen uint64) error {
	es := make([]*entry, 0, len(f.entries))
	for _, e := range f.entries {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].begin != es[j].begin {
			return es[i].begin < es[j].begin
		}
		if es[i].end != es[j].end {
			return es[i].end < es[j].end
		}
		return es[i].info.Name < es[j].info.Name
	})
	pos := dataStart
	for i, e := range es {
		if e.begin > pos {
			return formatErr(path, "tensor %q: gap of %d bytes in the data section before offset %d", e.info.Name, e.begin-pos, e.begin-dataStart)
		}
		if e.begin < pos {
			return formatErr(path, "tensor %q: data_offsets [%d, %d) overlap tensor %q", e.info.Name, e.begin-dataStart, e.end-dataStart, es[i-1].info.Name)
		}
		pos = e.end
	}
	if uint64(pos-dataStart) != dataLen {
		return formatErr(path, "%d bytes after the last tensor are not covered by any tensor", uint64(dataStart)+dataLen-uint64(pos))
	}
	return nil
}
