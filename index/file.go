package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// FileName is the index file inside an index directory.
const FileName = "index.loupe"

// FormatVersion is the version of the index file format written by Save.
const FormatVersion = 1

const (
	fileMagic   = "LOUPEIDX"
	headerSize  = 64
	entrySize   = 48
	maxSections = 64
	align       = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// manifest is the JSON section describing the index.
type manifest struct {
	Format              string `json:"format"`
	Version             int    `json:"version"`
	Kind                Kind   `json:"kind"`
	Metric              Metric `json:"metric"`
	Dim                 int    `json:"dim"`
	Count               int    `json:"count"` // slots, deleted included
	NextID              uint64 `json:"next_id"`
	M                   int    `json:"M"`
	MaxM0               int    `json:"max_m0"`
	EfConstruction      int    `json:"ef_construction"`
	Ef                  int    `json:"ef"`
	Seed                int64  `json:"seed"`
	NTrees              int    `json:"n_trees"`
	LeafSize            int    `json:"leaf_size"`
	AllowReplaceDeleted bool   `json:"allow_replace_deleted"`
	Model               string `json:"model,omitempty"`
	Entry               uint32 `json:"entry"`
	MaxLevel            int    `json:"max_level"`
}

type section struct {
	name string
	data []byte
}

// Named section views of a file.
type mapped struct {
	data    []byte
	unmap   func() error
	size    int64
	metaOff []uint64
	meta    []byte
}

func (m *mapped) metaAt(s uint32) []byte {
	if int(s)+1 >= len(m.metaOff) {
		return nil
	}
	a, b := m.metaOff[s], m.metaOff[s+1]
	if a == b {
		return nil
	}
	return m.meta[a:b]
}

func asBytes[T uint32 | uint64 | float32](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(v[0])))
}

func view[T uint32 | uint64 | float32](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)[:n:n]
}

func littleEndian() bool {
	one := uint16(1)
	return *(*byte)(unsafe.Pointer(&one)) == 1
}

// Save writes the index to dir/index.loupe (creating dir), atomically: a
// reader or a crash sees the old file or the new one, never a mix. A
// temporary file that a killed save left is removed (see LockDir). Saving
// waits for running searches and inserts and blocks new ones meanwhile.
func (x *Index) Save(dir string) error {
	if !littleEndian() {
		return fmt.Errorf("index: save: big-endian hosts are not supported")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("index: save: %w", err)
	}
	// Hold the directory lock while saving if no one else does (a caller
	// that took it with LockDir has cleaned up already): another process's
	// Open then leaves this save's temporary file alone, and what a killed
	// save left is removed first.
	if l := tryLockDir(dir, true); l != nil {
		defer l.Unlock()
		removeStale(dir)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	n := int(x.nslots.Load())
	man := manifest{
		Format: "loupe-index", Version: FormatVersion, Kind: x.opts.Kind, Metric: x.opts.Metric, Dim: x.dim,
		Count: n, M: x.opts.M, MaxM0: 2 * x.opts.M, EfConstruction: x.opts.EfConstruction, Ef: x.opts.Ef,
		Seed: x.opts.Seed, NTrees: x.opts.NTrees, LeafSize: x.opts.LeafSize,
		AllowReplaceDeleted: x.opts.AllowReplaceDeleted, Model: x.opts.Model,
	}
	x.slotMu.Lock()
	x.buildLabelMap()
	man.NextID = x.nextID
	x.slotMu.Unlock()
	flags := make([]byte, n)
	for i := range flags {
		if x.flags[i]&flagDeleted != 0 {
			flags[i] = 1
		}
	}
	metaOff := make([]uint64, n+1)
	var meta []byte
	for i := 0; i < n; i++ {
		meta = append(meta, x.metaAt(uint32(i))...)
		metaOff[i+1] = uint64(len(meta))
	}
	secs := []section{
		{"vectors", asBytes(x.vecs[:n*x.dim])},
		{"labels", asBytes(x.labels[:n])},
		{"flags", flags},
		{"meta_off", asBytes(metaOff)},
		{"meta", meta},
	}
	secs = append(secs, x.algo.sections(x, n, &man)...)
	mj, err := json.Marshal(man)
	if err != nil {
		return err
	}
	secs = append([]section{{"manifest", mj}}, secs...)

	// Lay out: header, table, then 64-byte aligned sections.
	table := make([]byte, len(secs)*entrySize)
	off := uint64(headerSize + len(table))
	offs := make([]uint64, len(secs))
	for i, s := range secs {
		off = (off + align - 1) / align * align
		offs[i] = off
		e := table[i*entrySize:]
		copy(e[:24], s.name)
		binary.LittleEndian.PutUint64(e[24:], off)
		binary.LittleEndian.PutUint64(e[32:], uint64(len(s.data)))
		binary.LittleEndian.PutUint32(e[40:], crc32.Checksum(s.data, castagnoli))
		off += uint64(len(s.data))
	}
	total := off
	hdr := make([]byte, headerSize)
	copy(hdr, fileMagic)
	binary.LittleEndian.PutUint32(hdr[8:], FormatVersion)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(secs)))
	binary.LittleEndian.PutUint64(hdr[24:], total)
	binary.LittleEndian.PutUint32(hdr[16:], headerCRC(hdr, table))

	path := filepath.Join(dir, FileName)
	err = atomicfile.Write(path, func(w io.Writer) error {
		pos := uint64(0)
		write := func(b []byte) error {
			_, err := w.Write(b)
			pos += uint64(len(b))
			return err
		}
		if err := write(hdr); err != nil {
			return err
		}
		if err := write(table); err != nil {
			return err
		}
		var zeros [align]byte
		for i, s := range secs {
			if err := write(zeros[:offs[i]-pos]); err != nil {
				return err
			}
			for b := s.data; len(b) > 0; {
				c := min(len(b), 1<<20)
				if err := write(b[:c]); err != nil {
					return err
				}
				b = b[c:]
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: save: %w", err)
	}
	return nil
}

func headerCRC(hdr, table []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[:16])
	c = crc32.Update(c, castagnoli, hdr[20:headerSize])
	return crc32.Update(c, castagnoli, table)
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Verify checks the CRC-32C of every section, reading the whole file.
	// Without it Open reads only the header, the manifest and the small
	// per-element tables (levels, flags, offsets); vectors and links are
	// checked for range as they are used.
	Verify bool
}

// Open maps dir/index.loupe read-only and returns the index. Opening does
// not read the vectors or the graph: pages are loaded as searches touch
// them and are shared with other processes that map the same file. The
// first change (Add, an update) copies the data into memory first
// (copy-on-write); the file itself is only changed by Save. Close unmaps.
// If no one holds the directory's lock, Open removes the temporary files
// that a killed save left (see LockDir).
func Open(dir string, opts ...OpenOptions) (*Index, error) {
	var o OpenOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, FileName)
	}
	if filepath.Base(path) == FileName {
		removeStaleIfFree(filepath.Dir(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("index: open %s: file too large", path)
	}
	data, unmap, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("index: open %s: mmap: %w", path, err)
	}
	x, err := openBytes(data, o.Verify)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	x.file.unmap = unmap
	return x, nil
}

// Verify checks the CRC-32C of every section of the file an index was
// opened from (nil for an index built in memory).
func (x *Index) Verify() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return ErrClosed
	}
	if x.file == nil {
		return nil
	}
	if _, err := parseFile(x.file.data, true); err != nil {
		return err
	}
	if h, ok := x.algo.(*hnsw); ok && !x.cow {
		return h.checkLinks(uint32(x.nslots.Load()))
	}
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// parseFile checks the header and table and returns the sections by name.
// It verifies the CRC of every section if all is set, else of the manifest
// and the small per-element tables.
func parseFile(b []byte, all bool) (map[string][]byte, error) {
	if len(b) < headerSize {
		return nil, corrupt("truncated: %d bytes, the header alone is %d", len(b), headerSize)
	}
	if string(b[:8]) != fileMagic {
		return nil, corrupt("not a loupe index (magic %q, want %q)", b[:8], fileMagic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != FormatVersion {
		return nil, fmt.Errorf("%w: file version %d, this loupe reads version %d", ErrVersion, v, FormatVersion)
	}
	ns := int(binary.LittleEndian.Uint32(b[12:]))
	if ns < 1 || ns > maxSections {
		return nil, corrupt("%d sections, want 1..%d", ns, maxSections)
	}
	total := binary.LittleEndian.Uint64(b[24:])
	if total != uint64(len(b)) {
		return nil, corrupt("truncated or extended: header says %d bytes, file has %d", total, len(b))
	}
	tend := headerSize + ns*entrySize
	if len(b) < tend {
		return nil, corrupt("truncated section table")
	}
	if headerCRC(b[:headerSize], b[headerSize:tend]) != binary.LittleEndian.Uint32(b[16:]) {
		return nil, corrupt("header checksum mismatch")
	}
	secs := make(map[string][]byte, ns)
	small := map[string]bool{"manifest": true, "flags": true, "levels": true, "upper_off": true, "meta_off": true, "ftrees": true, "fnodes": true}
	for i := 0; i < ns; i++ {
		e := b[headerSize+i*entrySize:]
		name := string(bytes.TrimRight(e[:24], "\x00"))
		off := binary.LittleEndian.Uint64(e[24:])
		n := binary.LittleEndian.Uint64(e[32:])
		if off < uint64(tend) || off > uint64(len(b)) || n > uint64(len(b))-off || off%8 != 0 {
			return nil, corrupt("section %q at %d+%d lies outside the %d-byte file", name, off, n, len(b))
		}
		data := b[off : off+n : off+n]
		if all || small[name] {
			if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(e[40:]) {
				return nil, corrupt("section %q checksum mismatch", name)
			}
		}
		secs[name] = data
	}
	return secs, nil
}

// openBytes builds an index over the bytes of an index file, which must stay
// mapped until Close. Every structure is range-checked so that a damaged
// file gives an error, never a crash.
func openBytes(b []byte, verify bool) (*Index, error) {
	if !littleEndian() {
		return nil, fmt.Errorf("index: big-endian hosts are not supported")
	}
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		b = append(make([]byte, 0, len(b)+8), b...) // views need 8-byte alignment
	}
	secs, err := parseFile(b, verify)
	if err != nil {
		return nil, err
	}
	var need sectionFunc = func(name string, size uint64) ([]byte, error) {
		s, ok := secs[name]
		if !ok {
			return nil, corrupt("missing section %q", name)
		}
		if size != math.MaxUint64 && uint64(len(s)) != size {
			return nil, corrupt("section %q has %d bytes, want %d", name, len(s), size)
		}
		return s, nil
	}
	mb, err := need("manifest", math.MaxUint64)
	if err != nil {
		return nil, err
	}
	var man manifest
	if err := json.Unmarshal(mb, &man); err != nil {
		return nil, corrupt("manifest: %v", err)
	}
	if man.Format != "loupe-index" || man.Version != FormatVersion {
		return nil, corrupt("manifest names format %q version %d", man.Format, man.Version)
	}
	o := Options{Kind: man.Kind, Metric: man.Metric, Dim: man.Dim, M: man.M, EfConstruction: man.EfConstruction,
		Ef: man.Ef, Seed: man.Seed, NTrees: man.NTrees, LeafSize: man.LeafSize,
		AllowReplaceDeleted: man.AllowReplaceDeleted, Model: man.Model}
	if err := o.check(); err != nil {
		return nil, corrupt("manifest: %v", err)
	}
	if man.MaxM0 != 2*o.M {
		return nil, corrupt("manifest: max_m0 %d is not 2·M = %d", man.MaxM0, 2*o.M)
	}
	n := uint64(man.Count)
	d := uint64(man.Dim)
	if man.Count < 0 || n > math.MaxUint32-1 || d > 1<<20 || n*d > uint64(len(b))/4 {
		return nil, corrupt("manifest: %d vectors of dimension %d do not fit the %d-byte file", man.Count, man.Dim, len(b))
	}
	x, err := New(o)
	if err != nil {
		return nil, corrupt("manifest: %v", err)
	}
	x.labelMap = nil
	m := &mapped{data: b, size: int64(len(b)), unmap: func() error { return nil }}
	x.file = m

	vb, err := need("vectors", n*d*4)
	if err != nil {
		return nil, err
	}
	x.vecs = view[float32](vb)
	lb, err := need("labels", n*8)
	if err != nil {
		return nil, err
	}
	x.labels = view[uint64](lb)
	fb, err := need("flags", n)
	if err != nil {
		return nil, err
	}
	x.flags = make([]uint32, n)
	var live, deleted int64
	for i, f := range fb {
		if f&1 != 0 {
			x.flags[i] = flagReady | flagDeleted
			deleted++
		} else {
			x.flags[i] = flagReady
			live++
		}
	}
	mob, err := need("meta_off", (n+1)*8)
	if err != nil {
		return nil, err
	}
	m.metaOff = view[uint64](mob)
	if m.meta, err = need("meta", math.MaxUint64); err != nil {
		return nil, err
	}
	if m.metaOff[0] != 0 {
		return nil, corrupt("metadata offsets start at %d, want 0", m.metaOff[0])
	}
	for i := uint64(0); i < n; i++ {
		if m.metaOff[i+1] < m.metaOff[i] || m.metaOff[i+1] > uint64(len(m.meta)) {
			return nil, corrupt("metadata offset %d (%d) out of order or past the %d-byte section", i+1, m.metaOff[i+1], len(m.meta))
		}
	}
	x.nslots.Store(int64(n))
	x.live.Store(live)
	x.ndeleted.Store(deleted)
	x.nextID = man.NextID

	if err := x.algo.open(x, need, man, n, verify); err != nil {
		return nil, err
	}
	return x, nil
}

// makeWritable copies a mapped index's data into memory before its first
// change. Called with mu held exclusively. Searches bound every link they
// follow, but inserting reads and rewrites neighbour lists unchecked, so the
// links are range-checked here first (the one pass over them that copying
// makes anyway): a damaged file gives an error, not a panic in a worker.
func (x *Index) makeWritable() error {
	if x.file == nil || x.cow {
		return nil
	}
	n := int(x.nslots.Load())
	if err := x.algo.makeWritable(n); err != nil {
		return err
	}
	x.vecs = append(make([]float32, 0, n*x.dim), x.vecs...)
	x.labels = append(make([]uint64, 0, n), x.labels...)
	x.meta = make([][]byte, n)
	for i := range x.meta {
		if m := x.file.metaAt(uint32(i)); m != nil {
			x.meta[i] = append([]byte(nil), m...)
		}
	}
	x.cow = true
	return nil
}

// Close releases the file mapping of an opened index. The index cannot be
// used afterwards.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	if x.file != nil && x.file.unmap != nil {
		return x.file.unmap()
	}
	return nil
}

// The file sections of each algorithm (flat has none).

// sections are the HNSW graph: each element's level, the fixed-size level-0
// link blocks, and the upper-level blocks packed with their offsets.
func (h *hnsw) sections(x *Index, n int, man *manifest) []section {
	if ep, lvl, ok := h.entry(); ok {
		man.Entry, man.MaxLevel = ep, lvl
	} else {
		man.MaxLevel = -1
	}
	levels := make([]byte, n)
	upperOff := make([]uint64, n)
	var upper []uint32
	for i := 0; i < n; i++ {
		levels[i] = h.levels[i]
		if h.levels[i] > 0 {
			upperOff[i] = uint64(len(upper))
			upper = append(upper, h.upper[i]...)
		}
	}
	return []section{
		{"levels", levels},
		{"link0", asBytes(h.link0[:n*(h.maxM0+1)])},
		{"upper_off", asBytes(upperOff)},
		{"upper", asBytes(upper)},
	}
}

func (h *hnsw) open(x *Index, need sectionFunc, man manifest, n uint64, verify bool) error {
	lv, err := need("levels", n)
	if err != nil {
		return err
	}
	h.levels = lv
	l0, err := need("link0", n*uint64(h.maxM0+1)*4)
	if err != nil {
		return err
	}
	h.link0 = view[uint32](l0)
	uob, err := need("upper_off", n*8)
	if err != nil {
		return err
	}
	ub, err := need("upper", math.MaxUint64)
	if err != nil {
		return err
	}
	uoff := view[uint64](uob)
	upper := view[uint32](ub)
	h.upper = make([][]uint32, n)
	for i := uint64(0); i < n; i++ {
		l := uint64(lv[i])
		if l == 0 {
			continue
		}
		if l > maxLevelCap {
			return corrupt("element %d has level %d, more than %d", i, l, maxLevelCap)
		}
		w := l * uint64(h.M+1)
		if uoff[i] > uint64(len(upper)) || w > uint64(len(upper))-uoff[i] {
			return corrupt("element %d: upper links at %d+%d words past the %d-word section", i, uoff[i], w, len(upper))
		}
		h.upper[i] = upper[uoff[i] : uoff[i]+w : uoff[i]+w]
	}
	if n > 0 {
		if man.MaxLevel < 0 || uint64(man.Entry) >= n || int(lv[man.Entry]) != man.MaxLevel {
			return corrupt("entry point %d at level %d does not match the element levels", man.Entry, man.MaxLevel)
		}
		h.setEntry(man.Entry, man.MaxLevel)
	}
	if verify {
		return h.checkLinks(uint32(n))
	}
	return nil
}

// makeWritable copies the graph off the mapping, first checking the links:
// searches bound every link they follow, but inserting reads and rewrites
// neighbour lists unchecked.
func (h *hnsw) makeWritable(n int) error {
	if err := h.checkLinks(uint32(n)); err != nil {
		return err
	}
	h.levels = append([]byte(nil), h.levels...)
	h.link0 = append([]uint32(nil), h.link0...)
	for i, u := range h.upper {
		if u != nil {
			h.upper[i] = append([]uint32(nil), u...)
		}
	}
	return nil
}

// sections are the forest: node counts per tree, fixed-size node records
// (children, plane index, offset, item range), the planes and the leaf
// items.
func (f *forest) sections(x *Index, _ int, _ *manifest) []section {
	f.mu.RLock()
	counts := make([]uint32, len(f.trees))
	var nodes []uint32
	var planes []float32
	var items []uint32
	for ti, t := range f.trees {
		counts[ti] = uint32(len(t))
		for _, nd := range t {
			pi := uint32(math.MaxUint32)
			if nd.plane != nil {
				pi = uint32(len(planes) / x.dim)
				planes = append(planes, nd.plane...)
			}
			nodes = append(nodes, uint32(nd.left), uint32(nd.right), pi, math.Float32bits(nd.offset), uint32(len(items)), uint32(len(nd.items)))
			items = append(items, nd.items...)
		}
	}
	f.mu.RUnlock()
	return []section{
		{"ftrees", asBytes(counts)},
		{"fnodes", asBytes(nodes)},
		{"planes", asBytes(planes)},
		{"items", asBytes(items)},
	}
}

func (f *forest) open(x *Index, need sectionFunc, _ manifest, n uint64, _ bool) error {
	tb, err := need("ftrees", math.MaxUint64)
	if err != nil {
		return err
	}
	nb, err := need("fnodes", math.MaxUint64)
	if err != nil {
		return err
	}
	pb, err := need("planes", math.MaxUint64)
	if err != nil {
		return err
	}
	ib, err := need("items", math.MaxUint64)
	if err != nil {
		return err
	}
	counts := view[uint32](tb)
	nodes := view[uint32](nb)
	planes := view[float32](pb)
	items := view[uint32](ib)
	if len(tb)%4 != 0 || len(nb)%24 != 0 || len(pb)%(4*x.dim) != 0 || len(ib)%4 != 0 {
		return corrupt("forest sections have sizes that are not whole records")
	}
	if n > 0 && len(counts) != f.nTrees {
		return corrupt("%d trees, manifest says n_trees = %d", len(counts), f.nTrees)
	}
	var total uint64
	for _, c := range counts {
		total += uint64(c)
	}
	if total*6 != uint64(len(nodes)) {
		return corrupt("%d forest nodes, the trees list %d", len(nodes)/6, total)
	}
	if len(counts) > 0 {
		f.trees = make([][]fnode, len(counts))
	}
	k := 0
	for ti, c := range counts {
		if c == 0 {
			return corrupt("tree %d has no nodes", ti)
		}
		t := make([]fnode, c)
		for i := range t {
			r := nodes[k*6 : k*6+6]
			k++
			nd := fnode{left: int32(r[0]), right: int32(r[1]), offset: math.Float32frombits(r[3])}
			if r[2] != math.MaxUint32 {
				p := uint64(r[2]) * uint64(x.dim)
				if p+uint64(x.dim) > uint64(len(planes)) {
					return corrupt("tree %d node %d: plane %d past the planes section", ti, i, r[2])
				}
				nd.plane = planes[p : p+uint64(x.dim) : p+uint64(x.dim)]
			} else {
				if uint64(r[4])+uint64(r[5]) > uint64(len(items)) {
					return corrupt("tree %d node %d: items %d+%d past the items section", ti, i, r[4], r[5])
				}
				nd.items = items[r[4] : r[4]+r[5] : r[4]+r[5]]
			}
			t[i] = nd
		}
		f.trees[ti] = t
	}
	return f.check(x)
}

// makeWritable copies the trees off the mapping (open checked them whole).
func (f *forest) makeWritable(int) error {
	for _, t := range f.trees {
		for i := range t {
			if t[i].plane != nil {
				t[i].plane = append([]float32(nil), t[i].plane...)
			}
			if t[i].items != nil {
				t[i].items = append([]uint32(nil), t[i].items...)
			}
		}
	}
	return nil
}
