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
func Build(ctx context.Context, m *gpt2.Model, tok tokenizer.Tokenizer, ids []int, dir string, opt BuildOptions) (*Manifest, error) {
	start := time.Now()
	c := m.Config
	if tok == nil {
		return nil, errors.New("knnlm: build: no tokenizer (its fingerprint is recorded in the datastore)")
	}
	win := opt.Window
	if win.MaxLength == 0 {
		win.MaxLength = c.NPositions
	}
	if win.Stride == 0 {
		win.Stride = perplexity.DefaultStride(win.MaxLength)
	}
	win.Mixer = nil
	if err := win.Check(c); err != nil {
		return nil, fmt.Errorf("knnlm: build: %w", err)
	}
	kind := opt.Index
	if kind == "" {
		kind = index.Flat
	}
	if kind != index.Flat && kind != index.HNSW {
		return nil, fmt.Errorf("knnlm: build: index %q: want flat or hnsw", kind)
	}
	if len(ids) < 2 {
		return nil, fmt.Errorf("knnlm: build: %d token(s): at least 2 are needed (a key's value is the next token)", len(ids))
	}
	if tv := tok.VocabSize(); tv > c.VocabSize {
		return nil, fmt.Errorf("knnlm: build: the tokenizer has %d tokens, more than the model's vocabulary of %d", tv, c.VocabSize)
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("knnlm: build: token %d at position %d is outside the model's vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	if _, err := os.Stat(dir); err == nil && !opt.Overwrite {
		return nil, fmt.Errorf("knnlm: build: %s already exists (remove it or overwrite it)", dir)
	}
	iopt := index.DefaultOptions()
	iopt.Kind, iopt.Metric, iopt.Dim = kind, index.L2, c.NEmbd
	iopt.Model = opt.Model
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
	defer x.Close()

	// The keys.
	batch := opt.BatchRows
	if batch <= 0 {
		batch = 65536
	}
	C := c.NEmbd
	total := len(ids) - 1
	buf := make([]float32, 0, (batch+c.NPositions)*C)
	added := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := x.Add(index.Batch{Vectors: buf, Dim: C}); err != nil {
			return fmt.Errorf("knnlm: build: %w", err)
		}
		added += len(buf) / C
		buf = buf[:0]
		return nil
	}
	hook := func(a *gpt2.Activation) {
		if a.Name == "ln_f" {
			buf = append(buf, a.Data...)
		}
	}
	s := m.NewState(gpt2.StateOptions{Batch: 1, MaxSeq: win.MaxLength})
	done := 0
	for _, w := range perplexity.Windows(len(ids), win) {
		if w.First == w.End {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.Reset()
		toks := ids[w.Begin:w.End]
		// Rows [r0, len-1) predict the window's targets; the rows before
		// only fill the cache, and the last token predicts nothing here.
		r0 := w.First - w.Begin - 1
		if r0 > 0 {
			if err := s.Forward([][]int{toks[:r0]}, gpt2.ForwardOptions{}); err != nil {
				return nil, err
			}
		}
		if err := s.Forward([][]int{toks[r0 : len(toks)-1]}, gpt2.ForwardOptions{Hook: hook}); err != nil {
			return nil, err
		}
		done += len(toks) - 1 - r0
		if len(buf) >= batch*C {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if added != total || x.Len() != total {
		return nil, fmt.Errorf("knnlm: build: %d keys for %d positions (internal error)", added, total)
	}

	man := &Manifest{
		Format: Format, Version: FormatVersion,
		Model: opt.Model, ModelFingerprint: ModelFingerprint(m), TokenizerFingerprint: TokenizerFingerprint(tok),
		Dim: C, VocabSize: c.VocabSize, MaxLength: win.MaxLength, Stride: win.Stride,
		Tokens: len(ids), Keys: total, Index: string(kind), Metric: string(index.L2),
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := writeStore(dir, x, ids, man, start, opt.Overwrite); err != nil {
		return nil, err
	}
	return man, nil
}

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
