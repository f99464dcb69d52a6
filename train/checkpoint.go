package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/safetensors"
)

// A checkpoint is a directory holding the model (config.json and
// model.safetensors in float32, a Hugging Face GPT-2 directory of its own),
// the AdamW moments (optimizer.safetensors: exp_avg.NAME and
// exp_avg_sq.NAME for each parameter NAME, PyTorch's names for them) and
// trainer_state.json (the options, the step, the history and a fingerprint
// of the data). SaveCheckpoint writes it beside its destination and renames
// it into place, so a crash leaves the previous checkpoint whole.

const (
	stateFile     = "trainer_state.json"
	optimizerFile = "optimizer.safetensors"
	stateFormat   = "loupe-train-1"
)

type trainerState struct {
	Format   string  `json:"format"`
	Step     int     `json:"step"`
	Options  Options `json:"options"`
	History  History `json:"history"`
	TrainFP  string  `json:"train_fingerprint"`
	EvalFP   string  `json:"eval_fingerprint"`
	Tokens   int     `json:"train_tokens"`
	Holdouts int     `json:"eval_tokens"`
}

// fingerprint identifies a token stream (FNV-1a of its ids).
func fingerprint(ids []int32) string {
	h := fnv.New64a()
	b := make([]byte, 4)
	for _, id := range ids {
		b[0], b[1], b[2], b[3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
		h.Write(b)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// SaveCheckpoint writes the run's state to dir (see above).
func (t *Trainer) SaveCheckpoint(dir string) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := t.Model.Save(tmp, "F32"); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	var ts []safetensors.Tensor
	for i, p := range t.params {
		ts = append(ts,
			safetensors.Tensor{Name: "exp_avg." + p.Name, Shape: p.Shape, Data: t.Opt.M[i]},
			safetensors.Tensor{Name: "exp_avg_sq." + p.Name, Shape: p.Shape, Data: t.Opt.V[i]})
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, optimizerFile), ts, map[string]string{"step": fmt.Sprint(t.Opt.Step)}); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	st := trainerState{Format: stateFormat, Step: t.Opt.Step, Options: t.Options, History: t.History,
		TrainFP: fingerprint(t.train), EvalFP: fingerprint(t.eval), Tokens: len(t.train), Holdouts: len(t.eval)}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, stateFile), append(b, '\n')); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	old := dir + ".old"
	os.RemoveAll(old)
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	os.RemoveAll(old)
	return nil
}

// HasCheckpoint reports whether dir (or the previous checkpoint a crash
// left beside it) holds a checkpoint.
func HasCheckpoint(dir string) bool {
	for _, d := range []string{dir, dir + ".old"} {
		if _, err := os.Stat(filepath.Join(d, stateFile)); err == nil {
			return true
		}
	}
	return false
}

// Resume returns a Trainer that continues the run checkpointed in dir
// exactly where it stopped, on the same training and held-out tokens (it
// checks their fingerprints). steps > 0 changes the number of steps of the
// run (a cosine schedule then decays over the new number).
func Resume(dir string, train, eval []int32, steps int) (*Trainer, error) {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		if _, oerr := os.Stat(filepath.Join(dir+".old", stateFile)); oerr == nil {
			dir += ".old" // a crash between the two renames of SaveCheckpoint
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("train: resume: %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("train: resume: %s: format %q, want %q", filepath.Join(dir, stateFile), st.Format, stateFormat)
	}
	if fingerprint(train) != st.TrainFP || len(train) != st.Tokens {
		return nil, fmt.Errorf("train: resume: the training data (%d tokens) is not the data the checkpoint was trained on (%d tokens)", len(train), st.Tokens)
	}
	if fingerprint(eval) != st.EvalFP || len(eval) != st.Holdouts {
		return nil, fmt.Errorf("train: resume: the held-out data (%d tokens) is not the checkpoint's (%d tokens)", len(eval), st.Holdouts)
	}
	if steps > 0 {
		st.Options.Steps = steps
	}
	loaded, err := gpt2.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	m := loaded.Clone()
	loaded.Close()
	t, err := New(m, train, eval, st.Options)
	if err != nil {
		return nil, err
	}
	opt, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	defer opt.Close()
	for i, p := range t.params {
		for _, x := range []struct {
			name string
			dst  []float32
		}{{"exp_avg." + p.Name, t.Opt.M[i]}, {"exp_avg_sq." + p.Name, t.Opt.V[i]}} {
			v, err := opt.Float32(x.name)
			if err != nil {
				return nil, fmt.Errorf("train: resume: %s: %w", optimizerFile, err)
			}
			if len(v) != len(x.dst) {
				return nil, fmt.Errorf("train: resume: %s: %s has %d values, want %d", optimizerFile, x.name, len(v), len(x.dst))
			}
			copy(x.dst, v)
		}
	}
	t.Opt.Step = st.Step
	t.History = st.History
	return t, nil
}
