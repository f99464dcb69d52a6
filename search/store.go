package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

// Document is one text to add, with an optional ID and metadata fields
// (see the package documentation for how IDs become vector ids). It is the
// record that embed.ReadRecords reads from text or JSON lines.
type Document = embed.Record

// OptionError reports an option out of range: the field (as named in the
// Go structs of this package and of embed), the value and what is allowed.
type OptionError = embed.OptionError

// DefaultK is DefaultSearchOptions' number of results, as in hnswlib's
// and faiss's examples.
const DefaultK = 10

var (
	// ErrExists: an id (or external document id) being added is already in
	// the index and AddOptions.Replace is not set.
	ErrExists = index.ErrExists
	// ErrIndexExists: Build was asked to write where an index already is.
	ErrIndexExists = index.ErrIndexExists
	// ErrNoModel: the index records no embedding model (it was built from
	// vectors) and none was given.
	ErrNoModel = errors.New("records no embedding model")
	// ErrNoDocuments: Add was given no document.
	ErrNoDocuments = errors.New("no documents")
	// ErrNoText: a bm25 or hybrid search found no document with a
	// "text" metadata field holding a term (an index built from vectors).
	ErrNoText = errors.New(`no document has a "text" field with words in it, which BM25 ranks`)
)

// Options configure New.
type Options struct {
	// Model is the embedding model: a hub id or a local directory
	// (required). It is recorded in the index, a directory as an absolute
	// path.
	Model string
	// Index holds the index's kind, metric and parameters; Dim and Model
	// are set from the embedding model. The zero value means
	// index.DefaultOptions().
	Index index.Options
	// Embed are the options of the embedding model (batch size, precision,
	// hub client, progress).
	Embed embed.Options
}

// OpenOptions configure Open.
type OpenOptions struct {
	// Model, if set, replaces the embedding model the index records (it
	// must make vectors of the index's dimension).
	Model string
	// Embed are the options of the embedding model.
	Embed embed.Options
	// Verify reads the whole index file and checks its checksums.
	Verify bool
}

// Store is an index of embedded documents.
type Store struct {
	x         *index.Index
	dir       string // where it was opened or last saved ("" if never)
	modelRef  string // OpenOptions.Model, or "" for the recorded one
	embedOpts embed.Options

	mu   sync.Mutex
	emb  *embed.Model
	cols *columns // metadata columns for filters, built on first use

	lexMu sync.Mutex // guards lex (apart from mu: building takes a while)
	lex   *lexicon   // BM25's inverted index, built on first use

	// progress receives the embedding progress of the running Add.
	progress func(stage string, done, total int)
}

// New returns an empty in-memory store embedding with opts.Model, which it
// loads to learn the dimension. Save writes it to a directory.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Model == "" {
		return nil, &OptionError{Field: "Model", Value: `""`, Allowed: "a hub id or a model directory"}
	}
	io := opts.Index
	if io == (index.Options{}) {
		io = index.DefaultOptions()
	}
	if err := opts.Embed.Validate(); err != nil {
		return nil, err
	}
	if err := io.Validate(); err != nil { // before loading the model
		return nil, err
	}
	ref := embed.RecordedModel(opts.Model)
	s := &Store{embedOpts: opts.Embed}
	m, err := s.load(ctx, ref)
	if err != nil {
		return nil, err
	}
	io.Dim, io.Model = m.Dim(), ref
	if s.x, err = index.New(io); err != nil {
		m.Close()
		return nil, err
	}
	s.emb = m
	return s, nil
}

// load loads embedding model ref with the store's options, its progress
// going to the running Add's.
func (s *Store) load(ctx context.Context, ref string) (*embed.Model, error) {
	opts := s.embedOpts
	user := opts.Progress
	opts.Progress = func(done, total int) {
		if user != nil {
			user(done, total)
		}
		if p := s.progress; p != nil {
			p("embedding", done, total)
		}
	}
	return embed.LoadWith(ctx, ref, opts)
}

// Open opens the index in directory dir. The embedding model is loaded on
// the first Add or Search.
func Open(dir string, opts OpenOptions) (*Store, error) {
	if err := opts.Embed.Validate(); err != nil {
		return nil, err
	}
	x, err := index.Open(dir, index.OpenOptions{Verify: opts.Verify})
	if err != nil {
		return nil, err
	}
	return &Store{x: x, dir: dir, modelRef: opts.Model, embedOpts: opts.Embed}, nil
}

// Index returns the underlying vector index (for its statistics; changing
// it directly bypasses the store's caches).
func (s *Store) Index() *index.Index { return s.x }

// Len returns the number of searchable documents.
func (s *Store) Len() int { return s.x.Len() }

// Model returns the embedding model searches use: OpenOptions.Model if
// given, else the one the index records, resolved (see ResolveModel).
func (s *Store) Model() string {
	if s.modelRef != "" {
		return s.modelRef
	}
	return ResolveModel(s.dir, s.x.Model())
}

// ResolveModel returns the model reference to load for the reference
// recorded in the index in directory dir: the recorded one, except that a
// relative reference that is not a directory from here but is one inside
// dir (an index shipped with its model beside it) is taken there.
func ResolveModel(dir, recorded string) string {
	if recorded == "" || filepath.IsAbs(recorded) || dir == "" {
		return recorded
	}
	if _, err := os.Stat(recorded); err == nil {
		return recorded
	}
	if alt := filepath.Join(dir, recorded); isDir(alt) {
		return alt
	}
	return recorded
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// ModelError reports that the embedding model the index records cannot be
// loaded.
type ModelError struct {
	Index string // index directory
	Model string // the recorded reference
	Err   error
}

func (e *ModelError) Error() string {
	why := ""
	if filepath.IsAbs(e.Model) {
		why = " (moved or deleted?)"
	}
	return fmt.Sprintf("index %s records the embedding model %s, which cannot be loaded%s: %v", e.Index, e.Model, why, e.Err)
}

func (e *ModelError) Unwrap() error { return e.Err }

// model returns the loaded embedding model, loading it on first use.
func (s *Store) model(ctx context.Context) (*embed.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emb != nil {
		return s.emb, nil
	}
	ref := s.Model()
	if ref == "" {
		return nil, fmt.Errorf("search: index %s %w (it was built from vectors)", s.dir, ErrNoModel)
	}
	m, err := s.load(ctx, ref)
	if err != nil {
		if s.modelRef == "" {
			return nil, fmt.Errorf("search: %w", &ModelError{Index: s.dir, Model: s.x.Model(), Err: err})
		}
		return nil, err
	}
	if m.Dim() != s.x.Dim() {
		m.Close()
		return nil, fmt.Errorf("search: model %s makes %d-dimensional vectors but index %s holds %d-dimensional ones: %w", ref, m.Dim(), s.dir, s.x.Dim(), index.ErrDim)
	}
	s.emb = m
	return m, nil
}

// Embedder returns the loaded embedding model (loading it on first use).
func (s *Store) Embedder(ctx context.Context) (*embed.Model, error) { return s.model(ctx) }

// AddOptions control Add.
type AddOptions struct {
	// Replace lets documents whose ID is already in the index replace the
	// stored document; without it such an ID is an error (ErrExists).
	Replace bool
	// Progress, if set, is called from time to time with the stage
	// ("embedding", then "indexing") and the documents done of total.
	Progress func(stage string, done, total int)
}

// AddResult says what Add did.
type AddResult struct {
	Added, Replaced int
	// IDs are the vector ids of the documents, in order.
	IDs                        []uint64
	EmbedSeconds, IndexSeconds float64
}

// Add embeds docs and adds them to the store (see the package
// documentation for ids). It checks every id before embedding anything and
// adds nothing on error.
func (s *Store) Add(ctx context.Context, docs []Document, opts AddOptions) (AddResult, error) {
	b, p, err := s.batch(docs, opts)
	if err != nil {
		return AddResult{}, err
	}
	m, err := s.model(ctx)
	if err != nil {
		return AddResult{}, err
	}
	n := len(docs)
	if opts.Progress != nil {
		opts.Progress("embedding", 0, n)
	}
	start := time.Now()
	s.progress = opts.Progress
	vecs, err := m.Embed(embed.Texts(docs))
	s.progress = nil
	if err != nil {
		return AddResult{}, err
	}
	embedSeconds := time.Since(start).Seconds()
	res, err := s.addVectors(b, p, vecs, m.Dim(), opts)
	res.EmbedSeconds = embedSeconds
	return res, err
}

// batch checks the ids of docs and returns the index batch of their ids
// and metadata (no vectors yet).
func (s *Store) batch(docs []Document, opts AddOptions) (index.Batch, idPlan, error) {
	if len(docs) == 0 {
		return index.Batch{}, idPlan{}, fmt.Errorf("search: add: %w", ErrNoDocuments)
	}
	p, err := planIDs(docs, s.x, opts.Replace)
	if err != nil {
		return index.Batch{}, p, fmt.Errorf("search: %w", err)
	}
	b := index.Batch{IDs: p.ids, Meta: make([]json.RawMessage, len(docs))}
	for i, d := range docs {
		if b.Meta[i], err = DocumentMeta(d); err != nil {
			return b, p, fmt.Errorf("search: document %d: metadata: %w", i+1, err)
		}
	}
	return b, p, nil
}

// addVectors adds batch b (planned as p) with the documents' vectors vecs
// of width dim.
func (s *Store) addVectors(b index.Batch, p idPlan, vecs [][]float32, dim int, opts AddOptions) (AddResult, error) {
	var res AddResult
	n := len(b.IDs)
	if len(vecs) != n {
		return res, fmt.Errorf("search: %d vectors for %d documents", len(vecs), n)
	}
	b.Vectors = make([]float32, 0, n*dim)
	for i, v := range vecs {
		if len(v) != dim {
			return res, fmt.Errorf("search: vector %d has %d values, want %d", i, len(v), dim)
		}
		b.Vectors = append(b.Vectors, v...)
	}
	if opts.Progress != nil {
		opts.Progress("indexing", 0, n)
		b.Progress = func(done int) { opts.Progress("indexing", done, n) }
	}
	start := time.Now()
	s.mu.Lock()
	s.cols = nil
	s.mu.Unlock()
	s.dropLexicon()
	if err := s.x.Add(b); err != nil {
		return res, err
	}
	res.IndexSeconds = time.Since(start).Seconds()
	res.IDs, res.Replaced, res.Added = p.ids, p.replaced, n-p.replaced
	return res, nil
}

// Delete marks vector ids deleted (see index.Index.Delete).
func (s *Store) Delete(ids ...uint64) error {
	s.mu.Lock()
	s.cols = nil
	s.mu.Unlock()
	s.dropLexicon()
	return s.x.Delete(ids...)
}

// Save writes the store to directory dir atomically (see index.Index.Save).
func (s *Store) Save(dir string) error {
	if err := s.x.Save(dir); err != nil {
		return err
	}
	s.dir = dir
	return nil
}

// Close releases the index and the embedding model.
func (s *Store) Close() error {
	s.mu.Lock()
	m := s.emb
	s.emb = nil
	s.mu.Unlock()
	if m != nil {
		m.Close()
	}
	return s.x.Close()
}

// DocumentMeta returns the JSON metadata Add stores for d: its metadata
// fields, its "text", and its ID as "id" when that is not a vector id.
// Package shard builds what it publishes with it, so that a document added
// through a stream is stored as Add would store it.
func DocumentMeta(d Document) (json.RawMessage, error) {
	meta := make(map[string]any, len(d.Meta)+2)
	for k, v := range d.Meta {
		meta[k] = v
	}
	meta["text"] = d.Text
	if _, ok := vectorID(d.ID); d.ID != nil && !ok {
		meta["id"] = d.ID
	}
	return json.Marshal(meta)
}

// VectorID reports whether a document ID is a vector id (a non-negative
// integer) and which.
func VectorID(id any) (uint64, bool) { return vectorID(id) }

// AddBatch adds vectors that were embedded elsewhere (by the store's
// model), with their ids and metadata (DocumentMeta), to the store: an id
// already present is replaced. It drops the store's filter and BM25
// caches as Add does.
func (s *Store) AddBatch(b index.Batch) error {
	s.mu.Lock()
	s.cols = nil
	s.mu.Unlock()
	s.dropLexicon()
	return s.x.Add(b)
}
