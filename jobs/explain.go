package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
)

// ExplainSpec is what an explain job computes: for each prompt, the
// explanation `loupe explain --format json PROMPT` prints with the same
// flags (one JSON line; timings_ms is the worker's). Wait writes the lines
// in input order to Output.
type ExplainSpec struct {
	// Input names the prompts file (for humans; the prompts travel in the
	// tasks).
	Input string `json:"input,omitempty"`
	// Output is the JSON-lines file Wait writes: line i explains prompt i.
	Output string `json:"output"`
	// Model is the GPT-2 the workers load (default: defaults.GPT2), with
	// Quantize its weights' precision ("" float32, int8, bf16, f16).
	Model    string `json:"model"`
	Quantize string `json:"quantize,omitempty"`
	// Settings are the decoding settings (loupe explain's decoding flags;
	// a nil field leaves the model's generation_config.json in force).
	// Give a Seed, or greedy decoding, for output that does not depend on
	// the worker: without one each prompt is sampled with a random seed.
	Settings generate.Settings `json:"settings"`
	// Methods, Target, Watch and Intervene are loupe explain's --methods,
	// --target, --watch and --intervene (explain.Explainer.ParseOptions).
	Methods   string   `json:"methods"`
	Target    string   `json:"target"`
	Watch     []string `json:"watch,omitempty"`
	Intervene []string `json:"intervene,omitempty"`
	// Options are the other explain.Options that loupe explain's flags
	// set.
	Options ExplainOptions `json:"options"`
}

// ExplainOptions are the fields of explain.Options that loupe explain's
// flags set (--ig-steps, --raw, --predictions, --watch-position,
// --nmf-components, --from-layer, --to-layer, --nmf-seed,
// --no-attention).
type ExplainOptions struct {
	IGSteps       int   `json:"ig_steps"`
	Raw           bool  `json:"raw,omitempty"`
	TopK          int   `json:"top_k"`
	WatchPosition int   `json:"watch_position"`
	NMFComponents int   `json:"nmf_components"`
	FromLayer     int   `json:"from_layer"`
	ToLayer       int   `json:"to_layer"`
	NMFSeed       int64 `json:"nmf_seed"`
	NoAttention   bool  `json:"no_attention,omitempty"`
}

func (o ExplainOptions) options() explain.Options {
	return explain.Options{IGSteps: o.IGSteps, Raw: o.Raw, TopK: o.TopK, WatchPosition: o.WatchPosition,
		NMFComponents: o.NMFComponents, FromLayer: o.FromLayer, ToLayer: o.ToLayer, NMFSeed: o.NMFSeed, NoAttention: o.NoAttention}
}

// SubmitExplain submits a job that explains each prompt of prompts (as
// embed.ReadRecordsFile reads them: text lines, or JSON lines with
// "text"), about opts.TaskSize prompts per task. Wait writes spec.Output.
func SubmitExplain(ctx context.Context, js jetstream.JetStream, prompts []embed.Record, spec ExplainSpec, opts SubmitOptions) (*Job, error) {
	if !strings.HasSuffix(strings.ToLower(spec.Output), ".jsonl") {
		return nil, fmt.Errorf("jobs: output %q: want a FILE.jsonl (one explanation per line)", spec.Output)
	}
	if len(prompts) == 0 {
		return nil, fmt.Errorf("jobs: no prompts to explain")
	}
	for _, p := range prompts {
		if err := generate.CheckText(p.Text); err != nil {
			return nil, fmt.Errorf("jobs: prompt at input line %d: %w", p.Line, err)
		}
	}
	if _, err := explain.ParseMethods(spec.Methods); err != nil {
		return nil, err
	}
	if _, err := explain.ParseTarget(spec.Target); err != nil {
		return nil, err
	}
	if spec.Settings.Adjust != nil || spec.Settings.Context != nil {
		return nil, fmt.Errorf("jobs: explain jobs do not decode with retrieval (kNN-LM, RALM)")
	}
	if err := spec.Settings.Check(); err != nil {
		return nil, err
	}
	if spec.Model == "" {
		return nil, fmt.Errorf("jobs: no model: name the GPT-2 (hub id or directory) the workers load")
	}
	job := &Job{Kind: KindExplain, Explain: &spec, Rows: len(prompts)}
	return submit(ctx, js, job, opts, nil, func(size, limit int) ([][]byte, error) {
		return splitTasks(job.ID, prompts, size, limit)
	})
}

// explainPrompts explains the prompts of task t of explain job: one JSON
// line each, as loupe explain --format json writes it.
func (w *worker) explainPrompts(ctx context.Context, job *Job, t *task) ([]byte, int, error) {
	spec := job.Explain
	p, err := w.pipeline(ctx, spec.Model, spec.Quantize)
	if err != nil {
		return nil, 0, err
	}
	e, err := explain.New(p)
	if err != nil {
		return nil, 0, err
	}
	opt, err := e.ParseOptions(spec.Options.options(), spec.Methods, spec.Target, spec.Watch, spec.Intervene)
	if err != nil {
		return nil, 0, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	for i, prompt := range t.Texts {
		res, err := explainOne(ctx, p, e, prompt, spec.Settings, opt)
		if err != nil {
			return nil, 0, fmt.Errorf("prompt %d of the task (row %d): %w", i+1, t.First+i, err)
		}
		if err := enc.Encode(res); err != nil {
			return nil, 0, fmt.Errorf("prompt %d of the task (row %d): %w", i+1, t.First+i, err)
		}
	}
	return out.Bytes(), len(t.Texts), nil
}

// explainOne explains one prompt as loupe explain does.
func explainOne(ctx context.Context, p *generate.Pipeline, e *explain.Explainer, prompt string, set generate.Settings, opt explain.Options) (*explain.Result, error) {
	if err := generate.CheckText(prompt); err != nil {
		return nil, err
	}
	ids, err := p.Encode(prompt)
	if err != nil {
		return nil, err
	}
	gen, _, err := p.Resolve(set, len(ids))
	if err != nil {
		return nil, err
	}
	return e.Explain(ctx, explain.Request{Prompt: prompt, Generate: gen, Options: opt,
		Neighbors: explain.DefaultNeighbors, NeighborContext: explain.DefaultNeighborContext})
}
