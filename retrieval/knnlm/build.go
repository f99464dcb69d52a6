package knnlm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/tokenizer"
)

// BuildOptions control Build. The zero value builds a flat index over
// windows of the model's n_positions tokens moving by half of that.
type BuildOptions struct {
	// Model is the reference the model was loaded from, recorded in the
	// manifest for display and error messages.
	Model string
	// Window is the sliding window (MaxLength, Stride; Mixer unused). Zero
	// fields take perplexity.DefaultOptions' values (Stride: half of
	// MaxLength).
	Window perplexity.Options
	// Index is the index kind over the keys: index.Flat (default, exact)
	// or index.HNSW (approximate).
	Index index.Kind
	// M and EfConstruction are HNSW's parameters (0: hnswlib's 16 and 200).
	M, EfConstruction int
	// Overwrite replaces a datastore already at the destination
	// (otherwise an error).
	Overwrite bool
	// Progress, if not nil, is called after each window with the keys
	// computed so far and in all.
	Progress func(done, total int)
	// BatchRows is the number of keys handed to the index per Add
	// (default 65536): the keys are buffered only that far before they go
	// into the index.
	BatchRows int
}

// Build runs m over the token stream ids in the sliding windows of
// opt.Window and writes a datastore at dir: for each position p in
// [0, len(ids)-1), the key is the ln_f output of the row at p (the final
// hidden state that predicts ids[p+1]) with p as its index id, and the
// value is ids[p+1]. Each key is computed in the one window in which its
// value is a perplexity target, so it sees the same context as a
// perplexity evaluation with those options (at least MaxLength−Stride
// tokens, or every token before it). tok is the model's tokenizer, whose
// fingerprint is recorded.
//
// The datastore is written to a temporary directory beside dir and renamed
// into place once complete: an error or a cancelled ctx (checked between
// windows) leaves no datastore and nothing half-written. Memory beyond the
// token stream and the index's keys is one State and BatchRows keys.
//
// Build is Plan, Keys over every window and a Writer; a build spread over
// many machines (package jobs) runs Keys over slices of the windows and
// gives the keys, in position order, to a Writer.
func Build(ctx context.Context, m *gpt2.Model, tok tokenizer.Tokenizer, ids []int, dir string, opt BuildOptions) (*Manifest, error) {
	start := time.Now()
	if tok == nil {
		return nil, errors.New("knnlm: build: no tokenizer (its fingerprint is recorded in the datastore)")
	}
	win, kind, err := Plan(m.Config, ids, opt)
	if err != nil {
		return nil, err
	}
	if tv := tok.VocabSize(); tv > m.Config.VocabSize {
		return nil, fmt.Errorf("knnlm: build: the tokenizer has %d tokens, more than the model's vocabulary of %d", tv, m.Config.VocabSize)
	}
	man := Manifest{Model: opt.Model, ModelFingerprint: ModelFingerprint(m), TokenizerFingerprint: TokenizerFingerprint(tok),
		Dim: m.Config.NEmbd, VocabSize: m.Config.VocabSize, MaxLength: win.MaxLength, Stride: win.Stride, Index: string(kind)}
	w, err := NewWriter(dir, ids, man, opt)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	total := len(ids) - 1
	done := 0
	err = Keys(ctx, m, ids, perplexity.Windows(len(ids), win), win.MaxLength, func(keys []float32) error {
		if err := w.Add(keys); err != nil {
			return err
		}
		done += len(keys) / m.Config.NEmbd
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w.Finish(ctx, start)
}

// Plan checks opt and the token stream ids as Build does for a model of
// configuration c and returns the windows' options (the defaults filled
// in: MaxLength n_positions, Stride half of it) and the index kind.
func Plan(c gpt2.Config, ids []int, opt BuildOptions) (perplexity.Options, index.Kind, error) {
	win := opt.Window
	if win.MaxLength == 0 {
		win.MaxLength = c.NPositions
	}
	if win.Stride == 0 {
		win.Stride = perplexity.DefaultStride(win.MaxLength)
	}
	win.Mixer = nil
	if err := win.Check(c); err != nil {
		return win, "", fmt.Errorf("knnlm: build: %w", err)
	}
	kind := opt.Index
	if kind == "" {
		kind = index.Flat
	}
	if kind != index.Flat && kind != index.HNSW {
		return win, "", fmt.Errorf("knnlm: build: index %q: want flat or hnsw", kind)
	}
	if len(ids) < 2 {
		return win, "", fmt.Errorf("knnlm: build: %d token(s): at least 2 are needed (a key's value is the next token)", len(ids))
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return win, "", fmt.Errorf("knnlm: build: token %d at position %d is outside the model's vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	keys := 0
	for _, w := range perplexity.Windows(len(ids), win) {
		keys += w.End - w.First
	}
	if keys != len(ids)-1 {
		return win, "", fmt.Errorf("knnlm: build: windows of %d tokens with stride %d leave %d of %d positions without a key (the first token of a window that starts where the last one ended has no context): give a stride less than max_length", win.MaxLength, win.Stride, len(ids)-1-keys, len(ids)-1)
	}
	return win, kind, nil
}

// Keys computes the keys of the windows ws (perplexity.Windows) over the
// token stream ids with windows of at most maxLength tokens: for each
// window with targets, the ln_f output (n_embd floats per row) of the rows
// at positions w.First-1 … w.End-2, the rows that predict its targets.
// emit gets each window's keys in turn; they are valid during the call
// only. ctx is checked between windows.
func Keys(ctx context.Context, m *gpt2.Model, ids []int, ws []perplexity.Window, maxLength int, emit func(keys []float32) error) error {
	var buf []float32
	hook := func(a *gpt2.Activation) {
		if a.Name == "ln_f" {
			buf = append(buf, a.Data...)
		}
	}
	s := m.NewState(gpt2.StateOptions{Batch: 1, MaxSeq: maxLength})
	for _, w := range ws {
		if w.First == w.End {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.Begin < 0 || w.First <= w.Begin || w.End < w.First || w.End > len(ids) || w.End-w.Begin > maxLength {
			return fmt.Errorf("knnlm: window %+v does not fit %d tokens and windows of %d", w, len(ids), maxLength)
		}
		s.Reset()
		toks := ids[w.Begin:w.End]
		// Rows [r0, len-1) predict the window's targets; the rows before
		// only fill the cache, and the last token predicts nothing here.
		r0 := w.First - w.Begin - 1
		if r0 > 0 {
			if err := s.Forward([][]int{toks[:r0]}, gpt2.ForwardOptions{}); err != nil {
				return err
			}
		}
		buf = buf[:0]
		if err := s.Forward([][]int{toks[r0 : len(toks)-1]}, gpt2.ForwardOptions{Hook: hook}); err != nil {
			return err
		}
		if err := emit(buf); err != nil {
			return err
		}
	}
	return nil
}

// Writer writes a datastore from keys computed elsewhere: Add them in
// position order, then Finish. Build uses one; so does a build spread
// over many machines (package jobs), which gives it the keys that Keys
// computed on each.
type Writer struct {
	x       *index.Index
	dir     string
	ids     []int
	man     Manifest
	opt     BuildOptions
	batch   int
	buf     []float32
	added   int
	checked bool
}

// NewWriter returns a Writer of the datastore at dir over the token
// stream ids, whose manifest is man (its Model, fingerprints, Dim,
// VocabSize, MaxLength, Stride and Index; the rest is filled in). Of opt
// it uses M, EfConstruction, BatchRows and Overwrite.
func NewWriter(dir string, ids []int, man Manifest, opt BuildOptions) (*Writer, error) {
	if _, err := os.Stat(dir); err == nil && !opt.Overwrite {
		return nil, fmt.Errorf("knnlm: build: %s already exists (remove it or overwrite it)", dir)
	}
	man.Format, man.Version, man.Metric = Format, FormatVersion, string(index.L2)
	man.Tokens, man.Keys = len(ids), len(ids)-1
	if err := man.check(); err != nil {
		return nil, fmt.Errorf("knnlm: build: %w", err)
	}
	iopt := index.DefaultOptions()
	iopt.Kind, iopt.Metric, iopt.Dim = index.Kind(man.Index), index.L2, man.Dim
	iopt.Model = man.Model
	if opt.M > 0 {
		iopt.M = opt.M
	}
	if opt.EfConstruction > 0 {
		iopt.EfConstruction = opt.EfConstruction
	}
	x, err := index.New(iopt)
	if err != nil {
		return nil, fmt.Errorf("knnlm: build: %w", err)
	}
	batch := opt.BatchRows
	if batch <= 0 {
		batch = 65536
	}
	return &Writer{x: x, dir: dir, ids: ids, man: man, opt: opt, batch: batch}, nil
}

// Add adds the keys of the next positions (rows of Dim floats), buffering
// them up to BatchRows rows before they go into the index.
func (w *Writer) Add(keys []float32) error {
	C := w.man.Dim
	if len(keys)%C != 0 {
		return fmt.Errorf("knnlm: build: %d floats are not rows of %d", len(keys), C)
	}
	if w.added+(len(w.buf)+len(keys))/C > w.man.Keys {
		return fmt.Errorf("knnlm: build: more keys than the %d positions", w.man.Keys)
	}
	w.buf = append(w.buf, keys...)
	if len(w.buf) >= w.batch*C {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	C := w.man.Dim
	if err := w.x.Add(index.Batch{Vectors: w.buf, Dim: C}); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	w.added += len(w.buf) / C
	w.buf = w.buf[:0]
	return nil
}

// Finish adds the buffered keys, checks that every position has its key
// and writes the datastore (see Build), its build time counted from start.
func (w *Writer) Finish(ctx context.Context, start time.Time) (*Manifest, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	if w.added != w.man.Keys || w.x.Len() != w.man.Keys {
		return nil, fmt.Errorf("knnlm: build: %d keys for %d positions", w.added, w.man.Keys)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	man := w.man
	if err := writeStore(w.dir, w.x, w.ids, &man, start, w.opt.Overwrite); err != nil {
		return nil, err
	}
	return &man, nil
}

// Close releases the index.
func (w *Writer) Close() error { return w.x.Close() }

// writeStore writes the datastore into a temporary directory beside dir,
// manifest last, and renames it to dir (replacing an existing one when
// overwrite is set).
func writeStore(dir string, x *index.Index, ids []int, man *Manifest, start time.Time, overwrite bool) (err error) {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	toks := make([]int32, len(ids))
	for i, id := range ids {
		toks[i] = int32(id)
	}
	if err := npy.WriteInts(filepath.Join(tmp, TokensFile), toks); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	if err := x.Save(filepath.Join(tmp, IndexDir)); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	man.Seconds = time.Since(start).Seconds()
	b, err := jsonIndent(man)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, ManifestFile), b); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	if _, serr := os.Stat(dir); serr == nil {
		if !overwrite {
			return fmt.Errorf("knnlm: build: %s already exists (remove it or overwrite it)", dir)
		}
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("knnlm: build: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir)
			return fmt.Errorf("knnlm: build: %w", err)
		}
		os.RemoveAll(old)
		return nil
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("knnlm: build: %w", err)
	}
	return syncDir(parent)
}

// syncDir makes a rename in dir durable (best effort where directories
// cannot be opened for sync).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	f.Sync()
	return nil
}
