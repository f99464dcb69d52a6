package torchfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/loupe-ml/loupe/internal/mmapfile"
	"github.com/loupe-ml/loupe/safetensors"
)

// ErrFormat is wrapped by every error that reports a malformed or
// unsupported file, for errors.Is.
var ErrFormat = errors.New("invalid or unsupported torch checkpoint")

// ErrLegacy is wrapped (with ErrFormat) when the file is in the legacy
// torch.save format of PyTorch before 1.6 (a bare pickle stream, not a zip).
var ErrLegacy = errors.New("legacy (pre-zip) torch.save format")

// MaxPickleSize bounds data.pkl, in bytes. The pickle of a state_dict is
// small: it only names the tensors and their storages (about 110 bytes a
// tensor; 19 KB for GPT-2 small).
const MaxPickleSize = 16 << 20

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType string // as in safetensors: "F32", "F16", "BF16", "I64", ...
	Shape []int
}

// storage is one archive/data/KEY record: a flat array of one dtype.
type storage struct {
	key   string
	dtype string
	size  int // bytes per element
	numel int64
	data  []byte // numel*size bytes, in the file's mapping
}

// tensor is a strided view of a storage.
type tensor struct {
	st     *storage
	offset int64 // in elements
	shape  []int
	stride []int64
	numel  int
	contig bool
}

// File is an open torch.save checkpoint. Its methods are safe for concurrent
// use until Close.
type File struct {
	path    string
	buf     []byte
	unmap   func() error
	tensors map[string]*tensor
	names   []string
}

// Open maps the checkpoint at path into memory (privately, copy-on-write) and
// reads its pickle. The file stays mapped until Close; slices returned by
// Float32 and Bytes may point into the mapping and must not be used after
// Close.
func Open(path string) (*File, error) {
	buf, unmap, err := mmapfile.Map(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
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

// Parse reads b, the bytes of a whole checkpoint, and returns a File reading
// from b without copying it. name is used in error messages.
func Parse(name string, b []byte) (*File, error) { return parse(name, b) }

// Evict gives the mapped file's pages back to the operating system, as
// safetensors.File.Evict does.
func (f *File) Evict() error {
	if f == nil || f.unmap == nil {
		return nil
	}
	if err := mmapfile.Evict(f.buf); err != nil {
		return fmt.Errorf("torchfile: evict %s: %w", f.path, err)
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
	f.tensors = nil
	if err != nil {
		return fmt.Errorf("torchfile: close %s: %w", f.path, err)
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
	t, ok := f.tensors[name]
	if !ok {
		return Info{}, false
	}
	return Info{Name: name, DType: t.st.dtype, Shape: slices.Clone(t.shape)}, true
}

// Shared reports whether two tensors of the file share storage bytes (tied
// weights saved once).
func (f *File) Shared(a, b string) bool {
	ta, ok1 := f.tensors[a]
	tb, ok2 := f.tensors[b]
	return ok1 && ok2 && ta.st == tb.st
}

func (f *File) lookup(name string) (*tensor, error) {
	if f.tensors == nil {
		return nil, fmt.Errorf("torchfile: %s: file is closed", f.path)
	}
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("torchfile: %s: no tensor %q", f.path, name)
	}
	return t, nil
}

// Bytes returns the raw little-endian bytes of the named tensor, row-major.
// A contiguous tensor's bytes point into the mapping (do not modify them); a
// strided one is gathered into a new slice.
func (f *File) Bytes(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return t.bytes(), nil
}

// Float32 returns the named tensor's values as float32, row-major. F32 data
// of a contiguous tensor is returned in place, without a copy (4-byte aligned
// on a little-endian machine, as torch.save aligns storages to 64 bytes);
// writes to it stay private to the process but are visible to later calls
// and to every tensor sharing the storage. F16 and BF16 data is converted
// exactly into a new slice; so is a non-contiguous tensor. Other dtypes are
// an error naming the file and the tensor.
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if out, ok := safetensors.ToFloat32(t.st.dtype, t.bytes()); ok {
		return out, nil
	}
	return nil, fmt.Errorf("torchfile: %s: tensor %q has dtype %s; want F32, F16 or BF16", f.path, name, t.st.dtype)
}

// bytes returns the tensor's elements, row-major: a view of the storage
// when contiguous, else a gathered copy.
func (t *tensor) bytes() []byte {
	sz := t.st.size
	if t.contig {
		lo := int(t.offset) * sz
		hi := lo + t.numel*sz
		return t.st.data[lo:hi:hi]
	}
	out := make([]byte, t.numel*sz)
	if t.numel == 0 {
		return out
	}
	idx := make([]int, len(t.shape))
	src := t.offset
	for i := 0; i < t.numel; i++ {
		copy(out[i*sz:(i+1)*sz], t.st.data[int(src)*sz:])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			src += t.stride[d]
			if idx[d] < t.shape[d] {
				break
			}
			src -= int64(idx[d]) * t.stride[d]
			idx[d] = 0
		}
	}
	return out
}

// newTensor checks a _rebuild_tensor_v2 view against its storage: sizes and
// strides non-negative, every element inside the storage, and no more
// elements than the storage holds (so gathering a strided view allocates no
// more than the file's size).
func newTensor(st *storage, off int64, size, stride []int64) (*tensor, error) {
	if len(size) != len(stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in rank", size, stride)
	}
	if len(size) > 64 {
		return nil, fmt.Errorf("rank %d", len(size))
	}
	if off < 0 {
		return nil, fmt.Errorf("negative storage offset %d", off)
	}
	t := &tensor{st: st, offset: off, shape: make([]int, len(size)), stride: stride, contig: true}
	empty := false
	for i, d := range size {
		if d < 0 || stride[i] < 0 {
			return nil, fmt.Errorf("negative size or stride in %v, %v", size, stride)
		}
		t.shape[i] = int(d)
		empty = empty || d == 0
	}
	numel := uint64(0)
	if !empty {
		numel = 1
		for _, d := range size {
			hi, lo := bits.Mul64(numel, uint64(d))
			if hi != 0 || lo > uint64(st.numel) {
				return nil, fmt.Errorf("shape %v has more elements than its storage %s (%d)", size, truncate(st.key), st.numel)
			}
			numel = lo
		}
	}
	t.numel = int(numel)
	if numel == 0 {
		t.offset = 0
		return t, nil
	}
	// The last element: offset + Σ (size-1)·stride must be in the storage.
	last := uint64(off)
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		hi, step := bits.Mul64(uint64(size[i]-1), uint64(stride[i]))
		if hi != 0 || step > uint64(st.numel) {
			return nil, fmt.Errorf("size %v, stride %v, offset %d reach past storage %s (%d elements)", size, stride, off, st.key, st.numel)
		}
		last += step
		if last >= uint64(st.numel) {
			return nil, fmt.Errorf("size %v, stride %v, offset %d reach past storage %s (%d elements)", size, stride, off, st.key, st.numel)
		}
		if size[i] != 1 && stride[i] != want {
			t.contig = false
		}
		want *= size[i]
	}
	return t, nil
}

func formatErr(path, format string, args ...any) error {
	return fmt.Errorf("torchfile: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrFormat)
}

// parse reads the zip directory of buf, runs data.pkl and indexes the tensors.
func parse(path string, buf []byte) (*File, error) {
	if !bytes.HasPrefix(buf, []byte("PK\x03\x04")) {
		if len(buf) >= 2 && buf[0] == opProto {
			return nil, fmt.Errorf("torchfile: %s: %w: %w; loupe reads the zip format torch.save writes since PyTorch 1.6: re-save it with torch.save(torch.load(path), path) or convert it to safetensors", path, ErrLegacy, ErrFormat)
		}
		return nil, formatErr(path, "not a torch.save zip archive (no zip signature)")
	}
	zr, err := zip.NewReader(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		return nil, formatErr(path, "zip: %v", err)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	prefix := ""
	for _, zf := range zr.File {
		if _, dup := entries[zf.Name]; dup {
			return nil, formatErr(path, "zip entry %q appears twice", zf.Name)
		}
		entries[zf.Name] = zf
		if dir, ok := strings.CutSuffix(zf.Name, "/data.pkl"); ok && !strings.Contains(dir, "/") {
			if prefix != "" {
				return nil, formatErr(path, "two pickles, %s/data.pkl and %s/data.pkl", prefix, dir)
			}
			prefix = dir
		}
	}
	if prefix == "" {
		return nil, formatErr(path, "no ARCHIVE/data.pkl in the zip (not a torch.save file?)")
	}
	if bo, ok := entries[prefix+"/byteorder"]; ok {
		b, err := entryBytes(buf, bo, 16)
		if err != nil {
			return nil, formatErr(path, "%s: %v", bo.Name, err)
		}
		if string(b) != "little" {
			return nil, formatErr(path, "byte order %q; loupe reads little-endian checkpoints", truncate(string(b)))
		}
	}
	pkl, err := entryBytes(buf, entries[prefix+"/data.pkl"], MaxPickleSize)
	if err != nil {
		return nil, formatErr(path, "%s/data.pkl: %v", prefix, err)
	}
	storages := map[string]*storage{}
	m := &machine{data: pkl, persistent: func(pid pyTuple) (*storage, error) {
		// ('storage', storage class, key, location, numel)
		if len(pid) != 5 || pid[0] != "storage" {
			return nil, fmt.Errorf("persistent id %s is not ('storage', type, key, location, numel)", describe(pid))
		}
		g, ok := pid[1].(pyGlobal)
		dtype := storageDTypes[g.name]
		if !ok || g.module != "torch" || dtype == "" {
			return nil, fmt.Errorf("storage type %s is not a torch storage class", typeName(pid[1]))
		}
		key, ok := pid[2].(string)
		if !ok {
			return nil, fmt.Errorf("storage key is a %s, want a str", typeName(pid[2]))
		}
		numel, ok := pid[4].(int64)
		if !ok || numel < 0 {
			return nil, fmt.Errorf("storage %q: element count %v", truncate(key), pid[4])
		}
		if s, ok := storages[key]; ok {
			if s.dtype != dtype || s.numel != numel {
				return nil, fmt.Errorf("storage %q used as %d×%s and as %d×%s", truncate(key), s.numel, s.dtype, numel, dtype)
			}
			return s, nil
		}
		size, _ := safetensors.DTypeSize(dtype)
		hi, nbytes := bits.Mul64(uint64(numel), uint64(size))
		if hi != 0 || nbytes > uint64(len(buf)) {
			return nil, fmt.Errorf("storage %q: %d elements of %s are more than the file holds", truncate(key), numel, dtype)
		}
		name := prefix + "/data/" + key
		zf, ok := entries[name]
		if !ok {
			return nil, fmt.Errorf("storage %q: no zip entry %s", truncate(key), truncate(name))
		}
		data, err := entryBytes(buf, zf, nbytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", truncate(name), err)
		}
		if uint64(len(data)) != nbytes {
			return nil, fmt.Errorf("%s holds %d bytes, want %d for %d elements of %s", truncate(name), len(data), nbytes, numel, dtype)
		}
		s := &storage{key: key, dtype: dtype, size: size, numel: numel, data: data}
		storages[key] = s
		return s, nil
	}}
	v, err := m.run()
	if err != nil {
		return nil, formatErr(path, "%v", err)
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, formatErr(path, "data.pkl holds a %s, want a state_dict (a dict of tensors)", typeName(v))
	}
	f := &File{path: path, buf: buf, tensors: make(map[string]*tensor, len(d.keys))}
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, formatErr(path, "state_dict key %v is a %s, want a str", k, typeName(k))
		}
		t, ok := d.m[k].(*tensor)
		if !ok {
			return nil, formatErr(path, "state_dict entry %q is a %s, want a tensor", truncate(name), typeName(d.m[k]))
		}
		f.tensors[name] = t
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	return f, nil
}

func describe(t pyTuple) string {
	parts := make([]string, len(t))
	for i, v := range t {
		if s, ok := v.(string); ok {
			parts[i] = fmt.Sprintf("%q", truncate(s))
		} else {
			parts[i] = typeName(v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// entryBytes returns a stored (uncompressed) zip entry's bytes in place,
// refusing entries larger than limit. torch.save stores every record
// uncompressed; a compressed one would have to be inflated into memory, so it
// is refused rather than risk a decompression bomb.
func entryBytes(buf []byte, zf *zip.File, limit uint64) ([]byte, error) {
	if zf == nil {
		return nil, errors.New("missing")
	}
	if zf.Method != zip.Store {
		return nil, fmt.Errorf("compressed (method %d); torch.save stores records uncompressed: re-save the file with torch.save", zf.Method)
	}
	if zf.CompressedSize64 != zf.UncompressedSize64 {
		return nil, fmt.Errorf("stored entry with compressed size %d ≠ size %d", zf.CompressedSize64, zf.UncompressedSize64)
	}
	if zf.UncompressedSize64 > limit {
		return nil, fmt.Errorf("%d bytes, more than the %d expected", zf.UncompressedSize64, limit)
	}
	off, err := zf.DataOffset()
	if err != nil {
		return nil, err
	}
	if off < 0 || uint64(off) > uint64(len(buf)) || zf.UncompressedSize64 > uint64(len(buf))-uint64(off) {
		return nil, fmt.Errorf("data at offset %d, %d bytes, runs past the end of the file", off, zf.UncompressedSize64)
	}
	end := int(off) + int(zf.UncompressedSize64)
	return buf[off:end:end], nil
}

// Contiguous reports whether the named tensor is stored row-major without
// gaps, so that Bytes and F32 Float32 return views of the mapping rather
// than gathered copies.
func (f *File) Contiguous(name string) bool {
	t, ok := f.tensors[name]
	return ok && t.contig
}
