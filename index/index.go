package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Kind is the search structure of an index.
type Kind string

// The kinds of index.
const (
	Flat   Kind = "flat"   // exact search over every vector
	HNSW   Kind = "hnsw"   // hierarchical navigable small-world graph (hnswlib)
	Forest Kind = "forest" // random-projection trees (Annoy)
)

// ParseKind maps a kind name to a Kind; an unknown name is an
// *OptionError for the field Kind.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case Flat, HNSW, Forest:
		return Kind(s), nil
	}
	return "", &OptionError{Field: "Kind", Value: fmt.Sprintf("%q", s), Allowed: "hnsw, flat or forest", unknown: true}
}

// Errors callers may test for with errors.Is.
var (
	ErrEmpty        = errors.New("index is empty")
	ErrKTooLarge    = errors.New("k is larger than the number of vectors in the index")
	ErrDim          = errors.New("dimension mismatch")
	ErrClosed       = errors.New("index is closed")
	ErrNotFound     = errors.New("id not found")
	ErrCorrupt      = errors.New("corrupt index file")
	ErrVersion      = errors.New("unsupported index file version")
	ErrNoDeletedYet = errors.New("id is not deleted")
)

// Slot flags, accessed atomically.
const (
	flagReady   = 1 // the slot's vector, label and links are complete
	flagDeleted = 2 // marked deleted: kept in the structure, excluded from results
)

// Index is a vector index: the stored vectors with their ids and metadata,
// and one of the search structures (Kind).
//
// An Index is safe for concurrent use: any number of searches may run while
// Add inserts new vectors (in parallel, like hnswlib's per-node locks).
// Replacing the vector of an existing id, Save and Close wait for running
// searches and block new ones while they work.
type Index struct {
	// mu: searches and inserts of new slots hold it shared; growth, in-place
	// updates, Save and Close hold it exclusively.
	mu sync.RWMutex

	opts   Options
	dim    int
	l2     bool // metric is L2 (else 1 − dot)
	closed bool

	// Per-slot storage. A slot is a position in these arrays; callers see
	// labels (ids) only. Slots are reserved under slotMu and published by
	// setting flagReady (flat) or by being linked into the graph (hnsw).
	vecs   []float32 // cap·dim, row-major
	labels []uint64
	flags  []uint32
	meta   [][]byte // JSON object per slot, or nil

	slotMu   sync.Mutex
	nslots   atomic.Int64 // slots in use
	live     atomic.Int64 // slots ready and not deleted
	ndeleted atomic.Int64
	labelMap map[uint64]uint32 // nil until first needed after Open
	free     []uint32          // deleted slots that AllowReplaceDeleted may reuse
	nextID   uint64            // next default label

	algo algorithm // the search structure of opts.Kind

	normMu    sync.Mutex
	norms     []float32 // squared norms for batched L2 flat search
	normValid int

	file *mapped // non-nil when opened from a file
	cow  bool    // data copied off the mapping; the mapping is no longer referenced for writing
}

// New returns an empty index.
func New(opts Options) (*Index, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	x := &Index{opts: opts, dim: opts.Dim, l2: opts.Metric == L2, labelMap: map[uint64]uint32{}}
	x.algo = newAlgorithm(&x.opts)
	return x, nil
}

// Dim returns the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Len returns the number of vectors that searches can return (added and not
// deleted).
func (x *Index) Len() int { return int(x.live.Load()) }

// Kind returns the index kind.
func (x *Index) Kind() Kind { return x.opts.Kind }

// Metric returns the index metric.
func (x *Index) Metric() Metric { return x.opts.Metric }

// Model returns the embedding model recorded in the index ("" if none).
func (x *Index) Model() string { return x.opts.Model }

// Options returns the options the index was built with, defaults filled in.
func (x *Index) Options() Options { return x.opts }

// SetEf sets the default ef for HNSW searches (hnswlib's set_ef).
func (x *Index) SetEf(ef int) {
	if ef > 0 {
		x.mu.Lock()
		x.opts.Ef = ef
		x.mu.Unlock()
	}
}

// SetThreads sets the threads Add uses; 0 means GOMAXPROCS, and a
// negative n is an *OptionError.
func (x *Index) SetThreads(n int) error {
	if err := checkThreads(n); err != nil {
		return err
	}
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	x.mu.Lock()
	x.opts.Threads = n
	x.mu.Unlock()
	return nil
}

// distance is the index metric's distance: a branch on the metric and a
// direct call into the kernels, no function value in the hot loops.
func (x *Index) distance(a, b []float32) float32 {
	if x.l2 {
		return kernels.SqDist(a, b)
	}
	return 1 - kernels.Dot(a, b)
}

func (x *Index) vec(i uint32) []float32 {
	o := int(i) * x.dim
	return x.vecs[o : o+x.dim : o+x.dim]
}

// Batch is a set of vectors to add.
type Batch struct {
	// Vectors holds the rows back to back: len(Vectors) = n·Dim.
	Vectors []float32
	// Dim, if not 0, is the length of a row; Add checks it is the index's.
	Dim int
	// IDs are the labels of the rows. nil means the next free default ids
	// (0, 1, 2, … continuing after the largest default id given so far).
	// An id already in the index replaces that vector (and undeletes it).
	IDs []uint64
	// Meta is an optional JSON object per row (nil entries allowed), kept
	// beside the vector for filters and for display (loupe search reads
	// "text"). nil means no metadata.
	Meta []json.RawMessage
	// Progress, if set, is called from time to time with the number of rows
	// inserted so far.
	Progress func(done int)
	// Normalized says that the rows are already of unit length, as a
	// cosine index stores them (Vector of another cosine index): they are
	// kept bit for bit instead of being normalised again, which could
	// change their last bit. Only cosine indexes look at it.
	Normalized bool
}

// Add inserts the vectors of b. It checks the whole batch first (shape,
// NaN/Inf, zero vectors under cosine, duplicate ids, metadata that is not a
// JSON object) and adds nothing if any row is bad.
func (x *Index) Add(b Batch) error {
	if b.Dim != 0 && b.Dim != x.dim {
		return x.dimError(b.Dim)
	}
	if len(b.Vectors)%x.dim != 0 {
		return fmt.Errorf("index: add: %d values is not a whole number of %d-dimensional vectors: %w", len(b.Vectors), x.dim, ErrDim)
	}
	n := len(b.Vectors) / x.dim
	if b.IDs != nil && len(b.IDs) != n {
		return fmt.Errorf("index: add: %d ids for %d vectors", len(b.IDs), n)
	}
	if b.Meta != nil && len(b.Meta) != n {
		return fmt.Errorf("index: add: %d metadata entries for %d vectors", len(b.Meta), n)
	}
	if n == 0 {
		return nil
	}
	vecs := make([]float32, len(b.Vectors))
	copy(vecs, b.Vectors)
	for i := 0; i < n; i++ {
		v := vecs[i*x.dim : (i+1)*x.dim]
		what := fmt.Sprintf("vector %d", i)
		if b.IDs != nil {
			what = fmt.Sprintf("vector %d (id %d)", i, b.IDs[i])
		}
		if err := checkFinite(v, what); err != nil {
			return err
		}
		if x.opts.Metric == Cosine && !b.Normalized {
			// A zero vector stays zero, as in hnswlib: its cosine distance
			// to every query is 1 (texts with no known word embed so).
			normalize(v, what)
		}
	}
	var meta [][]byte
	if b.Meta != nil {
		meta = make([][]byte, n)
		for i, m := range b.Meta {
			m = bytes.TrimSpace(m)
			if len(m) == 0 || string(m) == "null" {
				continue
			}
			if m[0] != '{' || !json.Valid(m) {
				return fmt.Errorf("index: add: metadata of vector %d is not a JSON object: %.40q", i, m)
			}
			meta[i] = append([]byte(nil), m...)
		}
	}
	if b.IDs != nil {
		seen := make(map[uint64]int, n)
		for i, id := range b.IDs {
			if j, ok := seen[id]; ok {
				return fmt.Errorf("index: add: id %d given twice (vectors %d and %d)", id, j, i)
			}
			seen[id] = i
		}
	}

	// Phase 1, exclusive: assign slots, grow, apply in-place replacements.
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return ErrClosed
	}
	if err := x.makeWritable(); err != nil {
		x.mu.Unlock()
		return fmt.Errorf("index: add: %w", err)
	}
	x.slotMu.Lock()
	x.buildLabelMap()
	ids := b.IDs
	if ids == nil {
		ids = make([]uint64, n)
		for i := range ids {
			for {
				_, taken := x.labelMap[x.nextID]
				if !taken {
					break
				}
				x.nextID++
			}
			ids[i] = x.nextID
			x.nextID++
		}
	}
	type update struct{ row, slot int }
	var updates []update
	var fresh []int // rows getting new slots
	var freshSlots []uint32
	base := int(x.nslots.Load())
	next := base
	for i, id := range ids {
		if s, ok := x.labelMap[id]; ok {
			updates = append(updates, update{i, int(s)})
			continue
		}
		if x.opts.AllowReplaceDeleted && len(x.free) > 0 {
			s := x.free[len(x.free)-1]
			x.free = x.free[:len(x.free)-1]
			delete(x.labelMap, x.labels[s])
			x.labelMap[id] = s
			x.labels[s] = id
			updates = append(updates, update{i, int(s)})
			continue
		}
		x.labelMap[id] = uint32(next)
		fresh = append(fresh, i)
		freshSlots = append(freshSlots, uint32(next))
		next++
		if b.IDs != nil && id >= x.nextID {
			x.nextID = id + 1
		}
	}
	if next > math.MaxUint32-1 {
		x.slotMu.Unlock()
		x.mu.Unlock()
		return fmt.Errorf("index: add: more than %d vectors", math.MaxUint32-1)
	}
	x.grow(next)
	for j, i := range fresh {
		s := freshSlots[j]
		copy(x.vec(s), vecs[i*x.dim:(i+1)*x.dim])
		x.labels[s] = ids[i]
		if meta != nil {
			x.meta[s] = meta[i]
		} else {
			x.meta[s] = nil
		}
	}
	x.nslots.Store(int64(next))
	x.slotMu.Unlock()

	done := 0
	for _, u := range updates {
		s := uint32(u.slot)
		copy(x.vec(s), vecs[u.row*x.dim:(u.row+1)*x.dim])
		x.labels[s] = ids[u.row]
		if meta != nil {
			x.meta[s] = meta[u.row]
		}
		x.normValid = min(x.normValid, int(s))
		wasDeleted := atomic.LoadUint32(&x.flags[s])&flagDeleted != 0
		x.algo.update(x, s)
		atomic.StoreUint32(&x.flags[s], flagReady)
		if wasDeleted {
			x.ndeleted.Add(-1)
			x.live.Add(1)
			x.removeFree(s)
		}
		done++
	}
	first := x.algo.prepare(x, freshSlots, b.Progress)
	for _, s := range freshSlots[:first] {
		x.setReady(s)
	}
	x.mu.Unlock()
	if len(freshSlots) == 0 {
		return nil
	}
	if first == len(freshSlots) {
		if b.Progress != nil {
			b.Progress(done + first)
		}
		return nil
	}

	// Phase 2, shared: insert the other new slots, in parallel, while
	// searches run.
	x.mu.RLock()
	defer x.mu.RUnlock()
	var counter atomic.Int64
	counter.Store(int64(first))
	threads := min(x.algo.insertThreads(x.opts.Threads), len(freshSlots)-first)
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			for {
				i := int(counter.Add(1)) - 1
				if i >= len(freshSlots) {
					return
				}
				x.algo.insert(x, freshSlots[i])
				x.setReady(freshSlots[i])
				if t == 0 && b.Progress != nil && i%256 == 0 {
					b.Progress(done + i)
				}
			}
		}(t)
	}
	wg.Wait()
	if b.Progress != nil {
		b.Progress(done + len(freshSlots))
	}
	return nil
}

// setReady publishes slot s to flat scans and filters, keeping a deletion
// mark that arrived while it was being inserted.
func (x *Index) setReady(s uint32) {
	for {
		f := atomic.LoadUint32(&x.flags[s])
		if atomic.CompareAndSwapUint32(&x.flags[s], f, f|flagReady) {
			if f&flagDeleted == 0 {
				x.live.Add(1)
			}
			return
		}
	}
}

// grow makes room for n slots. Called with mu held exclusively.
func (x *Index) grow(n int) {
	if n <= len(x.labels) {
		return
	}
	c := max(n, 2*len(x.labels), 1024)
	if n <= cap(x.labels) {
		c = cap(x.labels)
	}
	vecs := make([]float32, c*x.dim)
	copy(vecs, x.vecs)
	x.vecs = vecs
	labels := make([]uint64, c)
	copy(labels, x.labels)
	x.labels = labels
	flags := make([]uint32, c)
	copy(flags, x.flags)
	x.flags = flags
	meta := make([][]byte, c)
	copy(meta, x.meta)
	x.meta = meta
	x.algo.grow(c)
}

func (x *Index) removeFree(s uint32) {
	for i, f := range x.free {
		if f == s {
			x.free = append(x.free[:i], x.free[i+1:]...)
			return
		}
	}
}

// buildLabelMap fills labelMap from the labels (after Open). Called with
// slotMu held.
func (x *Index) buildLabelMap() {
	if x.labelMap != nil {
		return
	}
	n := int(x.nslots.Load())
	x.labelMap = make(map[uint64]uint32, n)
	for i := 0; i < n; i++ {
		x.labelMap[x.labels[i]] = uint32(i)
		if x.labels[i] >= x.nextID {
			x.nextID = x.labels[i] + 1
		}
		if x.flags[i]&flagDeleted != 0 {
			x.free = append(x.free, uint32(i))
		}
	}
}

func (x *Index) slotOf(id uint64) (uint32, bool) {
	x.slotMu.Lock()
	defer x.slotMu.Unlock()
	x.buildLabelMap()
	s, ok := x.labelMap[id]
	return s, ok
}

// Delete marks the vectors with the given ids deleted, like hnswlib's
// markDelete: they stay in the structure (the graph keeps its links) but no
// search returns them. Adding a deleted id again replaces its vector and
// undeletes it; with AllowReplaceDeleted, new ids reuse deleted slots. An
// unknown id is an error (nothing is deleted); deleting twice is not.
func (x *Index) Delete(ids ...uint64) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return ErrClosed
	}
	slots := make([]uint32, len(ids))
	for i, id := range ids {
		s, ok := x.slotOf(id)
		if !ok {
			return fmt.Errorf("index: delete: id %d: %w", id, ErrNotFound)
		}
		slots[i] = s
	}
	x.slotMu.Lock()
	defer x.slotMu.Unlock()
	for _, s := range slots {
		for {
			f := atomic.LoadUint32(&x.flags[s])
			if f&flagDeleted != 0 {
				break
			}
			if atomic.CompareAndSwapUint32(&x.flags[s], f, f|flagDeleted) {
				x.ndeleted.Add(1)
				if f&flagReady != 0 {
					x.live.Add(-1)
				}
				x.free = append(x.free, s)
				break
			}
		}
	}
	return nil
}

// Deleted reports whether id is in the index and marked deleted.
func (x *Index) Deleted(id uint64) bool {
	s, ok := x.slotOf(id)
	return ok && atomic.LoadUint32(&x.flags[s])&flagDeleted != 0
}

// Metadata returns a copy of the JSON metadata stored with id, or nil, and
// whether id is in the index (deleted or not).
func (x *Index) Metadata(id uint64) (json.RawMessage, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, false
	}
	s, ok := x.slotOf(id)
	if !ok {
		return nil, false
	}
	m := x.metaAt(s)
	if m == nil {
		return nil, true
	}
	return append(json.RawMessage(nil), m...), true
}

// Text returns the "text" string field of id's metadata ("" if none): the
// document text loupe index build --input stores for loupe search.
func (x *Index) Text(id uint64) string {
	m, _ := x.Metadata(id)
	if m == nil {
		return ""
	}
	var doc struct {
		Text string `json:"text"`
	}
	json.Unmarshal(m, &doc)
	return doc.Text
}

// Vector returns a copy of the stored vector of id (unit length under
// cosine).
func (x *Index) Vector(id uint64) ([]float32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.slotOf(id)
	if !ok || x.closed {
		return nil, false
	}
	return append([]float32(nil), x.vec(s)...), true
}

// NextID returns the id that Add gives the next vector added without an
// id: one past the largest id ever stored in the index (deleted ids
// included), or 0 for an empty index.
func (x *Index) NextID() uint64 {
	x.slotMu.Lock()
	defer x.slotMu.Unlock()
	x.buildLabelMap()
	return x.nextID
}

// Has reports whether id is in the index and not deleted.
func (x *Index) Has(id uint64) bool {
	s, ok := x.slotOf(id)
	return ok && atomic.LoadUint32(&x.flags[s])&flagDeleted == 0
}

// IDs returns the ids of the vectors searches can return, in slot order.
func (x *Index) IDs() []uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := int(x.nslots.Load())
	out := make([]uint64, 0, x.live.Load())
	for i := 0; i < n; i++ {
		if atomic.LoadUint32(&x.flags[i]) == flagReady {
			out = append(out, x.labels[i])
		}
	}
	return out
}

func (x *Index) metaAt(s uint32) []byte {
	if x.meta != nil {
		return x.meta[s]
	}
	if x.file != nil {
		return x.file.metaAt(s)
	}
	return nil
}
