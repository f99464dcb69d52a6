package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/tokenizer"
)

// KNNLMSpec is what a knnlm-datastore job builds: the kNN-LM datastore
// that `loupe knnlm build` (knnlm.Build) builds on one machine from the
// same token stream. Each task holds a run of the build's sliding windows
// and their tokens; a worker computes their keys (knnlm.Keys: the final
// hidden states of the positions whose next token is a target of the
// window, so every key sees the context it sees on one machine); Wait
// gives the keys, in position order, to a knnlm.Writer with the token
// stream (the job's input object), which writes the datastore.
type KNNLMSpec struct {
	// Input names the corpus files (for humans; the tokens travel in the
	// tasks and the job's input object).
	Input []string `json:"input,omitempty"`
	// Output is the datastore directory Wait writes.
	Output string `json:"output"`
	// Model is the GPT-2 the workers load (a hub id or a directory that
	// every worker reaches); its fingerprint must be ModelFingerprint.
	Model string `json:"model"`
	// MaxLength and Stride are the sliding windows (0: knnlm.Build's
	// defaults, filled in by SubmitKNNLM); Index the index kind over the
	// keys, "flat" (default) or "hnsw".
	MaxLength int    `json:"max_length"`
	Stride    int    `json:"stride"`
	Index     string `json:"index"`
	// Overwrite lets Wait replace a datastore already in Output.
	Overwrite bool `json:"overwrite,omitempty"`

	// Set by SubmitKNNLM: the stream's length, the model's key width and
	// vocabulary, and the fingerprints the datastore records.
	Tokens               int    `json:"tokens"`
	Dim                  int    `json:"dim"`
	VocabSize            int    `json:"vocab_size"`
	ModelFingerprint     string `json:"model_fingerprint"`
	TokenizerFingerprint string `json:"tokenizer_fingerprint"`
}

// SubmitKNNLM submits a job that builds the kNN-LM datastore of the token
// stream ids (knnlm.TokenizeCorpus's, as `loupe knnlm build` makes it) for
// model m, which spec.Model names for the workers, and its tokenizer tok.
// Tasks hold about opts.TaskSize keys (whole windows). Wait writes the
// datastore that knnlm.Build writes for the same model, stream and
// options (its keys, tokens and manifest; build_seconds counts from the
// submission).
func SubmitKNNLM(ctx context.Context, js jetstream.JetStream, m *gpt2.Model, tok tokenizer.Tokenizer, ids []int, spec KNNLMSpec, opts SubmitOptions) (*Job, error) {
	if spec.Output == "" {
		return nil, fmt.Errorf("jobs: no output directory for the datastore")
	}
	if spec.Model == "" {
		return nil, fmt.Errorf("jobs: no model: name the GPT-2 (hub id or directory) the workers load")
	}
	if tok == nil {
		return nil, fmt.Errorf("jobs: no tokenizer (its fingerprint is recorded in the datastore)")
	}
	win, kind, err := knnlm.Plan(m.Config, ids, knnlm.BuildOptions{Window: perplexity.Options{MaxLength: spec.MaxLength, Stride: spec.Stride}, Index: index.Kind(spec.Index)})
	if err != nil {
		return nil, err
	}
	spec.MaxLength, spec.Stride, spec.Index = win.MaxLength, win.Stride, string(kind)
	spec.Tokens, spec.Dim, spec.VocabSize = len(ids), m.Config.NEmbd, m.Config.VocabSize
	spec.ModelFingerprint, spec.TokenizerFingerprint = knnlm.ModelFingerprint(m), knnlm.TokenizerFingerprint(tok)
	input := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		input = binary.LittleEndian.AppendUint32(input, uint32(int32(id)))
	}
	job := &Job{Kind: KindKNNLM, KNNLM: &spec, Rows: len(ids) - 1}
	return submit(ctx, js, job, opts, input, func(size, limit int) ([][]byte, error) {
		return splitWindows(job.ID, ids, perplexity.Windows(len(ids), win), size, limit)
	})
}

// splitWindows cuts the windows ws of the stream ids into tasks of whole
// windows holding at least size keys each (the last one fewer), whose
// JSON messages are at most limit bytes.
func splitWindows(job string, ids []int, ws []perplexity.Window, size, limit int) ([][]byte, error) {
	var out [][]byte
	for a := 0; a < len(ws); {
		b, keys := a, 0
		for b < len(ws) && (keys < size || b == a) {
			keys += ws[b].End - ws[b].First
			b++
		}
		for {
			t := task{Job: job, Task: len(out), First: ws[a].First - 1, Windows: [2]int{a, b}}
			for _, id := range ids[ws[a].Begin:ws[b-1].End] {
				t.Tokens = append(t.Tokens, int32(id))
			}
			msg, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("jobs: task %d: %w", t.Task, err)
			}
			if len(msg) <= limit {
				out = append(out, msg)
				break
			}
			if b-a == 1 {
				return nil, fmt.Errorf("jobs: window %d (%d tokens) is %d bytes, more than a NATS message may hold (max_payload %d)", a, len(t.Tokens), len(msg), limit+4096)
			}
			b = a + (b-a)/2
		}
		a = b
	}
	return out, nil
}

// knnlmKeys computes the keys of task t of knnlm-datastore job: rows of
// Dim float32s, little-endian.
func (w *worker) knnlmKeys(ctx context.Context, job *Job, t *task) ([]byte, int, int, error) {
	spec := job.KNNLM
	ws := perplexity.Windows(spec.Tokens, perplexity.Options{MaxLength: spec.MaxLength, Stride: spec.Stride})
	a, b := t.Windows[0], t.Windows[1]
	if a < 0 || b > len(ws) || a >= b {
		return nil, 0, 0, fmt.Errorf("task holds windows %d-%d of a job of %d windows", a, b-1, len(ws))
	}
	lo, hi := ws[a].Begin, ws[b-1].End
	if len(t.Tokens) != hi-lo || t.First != ws[a].First-1 {
		return nil, 0, 0, fmt.Errorf("task holds %d tokens from key %d; windows %d-%d span tokens %d-%d from key %d", len(t.Tokens), t.First, a, b-1, lo, hi-1, ws[a].First-1)
	}
	p, err := w.pipeline(ctx, spec.Model, "")
	if err != nil {
		return nil, 0, 0, err
	}
	m := p.Model
	if fp := knnlm.ModelFingerprint(m); fp != spec.ModelFingerprint {
		return nil, 0, 0, fmt.Errorf("model %s on this worker has fingerprint %s, the job's model %s: every worker must load the same weights", spec.Model, fp, spec.ModelFingerprint)
	}
	ids := make([]int, len(t.Tokens))
	for i, id := range t.Tokens {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return nil, 0, 0, fmt.Errorf("token %d at position %d is outside the model's vocabulary [0, %d)", id, lo+i, m.Config.VocabSize)
		}
		ids[i] = int(id)
	}
	local := make([]perplexity.Window, b-a)
	for i, w := range ws[a:b] {
		local[i] = perplexity.Window{Begin: w.Begin - lo, First: w.First - lo, End: w.End - lo}
	}
	var data []byte
	err = knnlm.Keys(ctx, m, ids, local, spec.MaxLength, func(keys []float32) error {
		for _, x := range keys {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(x))
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	dim := m.Config.NEmbd
	return data, len(data) / 4 / dim, dim, nil
}

// buildDatastore is Wait's output of a knnlm-datastore job: it gives the
// keys of the tasks, in order, to a knnlm.Writer of the datastore in dir.
func buildDatastore(ctx context.Context, s *store, job *Job, dir string, collect func(add func(d taskDone, b []byte) error) error) error {
	spec := job.KNNLM
	var ids []int
	err := retry(ctx, func(ctx context.Context) error {
		b, err := s.objects.GetBytes(ctx, inputName(job.ID))
		if err != nil {
			return err
		}
		if len(b) != 4*spec.Tokens {
			return fmt.Errorf("%d bytes, want %d tokens", len(b), spec.Tokens)
		}
		ids = make([]int, spec.Tokens)
		for i := range ids {
			ids[i] = int(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("input %s: %w", inputName(job.ID), err)
	}
	man := knnlm.Manifest{Model: spec.Model, ModelFingerprint: spec.ModelFingerprint, TokenizerFingerprint: spec.TokenizerFingerprint,
		Dim: spec.Dim, VocabSize: spec.VocabSize, MaxLength: spec.MaxLength, Stride: spec.Stride, Index: spec.Index}
	wr, err := knnlm.NewWriter(dir, ids, man, knnlm.BuildOptions{Overwrite: spec.Overwrite})
	if err != nil {
		return err
	}
	defer wr.Close()
	if err := collect(func(d taskDone, b []byte) error { return wr.Add(floats(b)) }); err != nil {
		return err
	}
	_, err = wr.Finish(ctx, job.Submitted)
	return err
}
