package train

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// EvalPoint is the held-out loss measured after a step.
type EvalPoint struct {
	Step int     `json:"step"` // steps taken when it was measured
	Loss float64 `json:"loss"` // mean cross-entropy per token (nats)
}

// History is what a run has recorded so far; a checkpoint keeps it, so a
// resumed run's history is the uninterrupted run's.
type History struct {
	Losses     []float64   `json:"losses"`      // training loss of each step, before its update
	EvalLosses []EvalPoint `json:"eval_losses"` // held-out losses
	LRs        []float64   `json:"lrs"`         // learning rate of each step
	GradNorms  []float64   `json:"grad_norms"`  // global gradient norm of each step, before clipping
	Tokens     int64       `json:"tokens"`      // training tokens processed
	Seconds    float64     `json:"seconds"`     // time spent in steps and evaluations
	// StepSeconds is the time spent in steps alone (tokens per second
	// divide by it).
	StepSeconds float64 `json:"step_seconds"`
}

// Trainer trains a GPT-2 model in place. It is not safe for concurrent
// use.
type Trainer struct {
	Model   *gpt2.Model
	Options Options
	Opt     *AdamW
	History History

	train, eval     []int32
	params, gparams []gpt2.Param
	grads           *gpt2.Grads
	pass            *gpt2.Pass
	inputs, targets []int
	x0, dlnf        []float32
	logits          []float32
}

// logitChunk bounds the logits held at once (values).
const logitChunk = 4 << 20

// New returns a Trainer for m (whose weights it will change: give it a
// model with writable weights, such as gpt2.Init's or Model.Clone's),
// training on the token stream train and evaluating on eval (which may be
// empty: no evaluation).
func New(m *gpt2.Model, train, eval []int32, o Options) (*Trainer, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if err := m.CheckTrainable(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	c := m.Config
	if o.SeqLen > c.NPositions {
		return nil, &OptionError{"SeqLen", o.SeqLen, fmt.Sprintf("at most the model's n_positions (%d)", c.NPositions)}
	}
	if err := checkData("training", len(train), o.SeqLen); err != nil {
		return nil, err
	}
	if len(eval) > 0 {
		if err := checkData("held-out", len(eval), o.SeqLen); err != nil {
			return nil, err
		}
	}
	for _, d := range [][]int32{train, eval} {
		for i, id := range d {
			if id < 0 || int(id) >= c.VocabSize {
				return nil, fmt.Errorf("train: token id %d at position %d is outside the model's vocabulary of %d", id, i, c.VocabSize)
			}
		}
	}
	t := &Trainer{Model: m, Options: o, train: train, eval: eval}
	t.params = c.Params(&m.Weights)
	t.grads = c.NewGrads()
	if !m.Weights.Tied() {
		t.grads.LMHead = make([]float32, len(m.Weights.LMHead))
	}
	t.gparams = c.Params(t.grads)
	if len(t.gparams) != len(t.params) {
		return nil, fmt.Errorf("train: %d gradient tensors for %d parameters", len(t.gparams), len(t.params))
	}
	t.Opt = NewAdamW(t.params, o)
	BT := o.BatchSize * o.SeqLen
	t.inputs, t.targets = make([]int, BT), make([]int, BT)
	t.dlnf = make([]float32, BT*c.NEmbd)
	t.logits = make([]float32, max(c.VocabSize, min(BT*c.VocabSize, logitChunk)))
	return t, nil
}

// headGrad is where the LM head's gradient goes: the token embedding's
// when the head is tied to it.
func (t *Trainer) headGrad() []float32 {
	if t.Model.Weights.Tied() {
		return t.grads.WTE
	}
	return t.grads.LMHead
}

// microBatch runs micro-batch j forward and backward, adding the
// gradients of its mean loss times scale, and returns the mean loss.
func (t *Trainer) microBatch(j int, scale float32) (float64, error) {
	o, m := t.Options, t.Model
	c := m.Config
	B, T, C := o.BatchSize, o.SeqLen, c.NEmbd
	batch(t.inputs, t.targets, t.train, j, o)
	x0, err := m.EmbedInto(t.x0, t.inputs)
	if err != nil {
		return 0, err
	}
	t.x0 = x0
	p, err := m.ForwardPass(x0, B, T, gpt2.PassOptions{Train: true, Dropout: float32(o.Dropout), DropoutSeed: dropoutSeed(o.Seed, j), Reuse: t.pass})
	if err != nil {
		return 0, err
	}
	t.pass = p
	n := B * T
	sum := headLoss(p.LNF, t.targets, n, C, c.VocabSize, m.Weights.LMHead, scale/float32(n), t.dlnf, t.headGrad(), t.logits)
	dx0, err := p.BackwardHidden(t.dlnf, t.grads)
	if err != nil {
		return 0, err
	}
	autograd.EmbeddingBackward(t.grads.WTE, dx0, t.inputs, C)
	return sum / float64(n), nil
}

// dropoutSeed seeds micro-batch j's dropout masks.
func dropoutSeed(seed uint64, j int) uint64 { return seed ^ uint64(j)*0x9E3779B97F4A7C15 }

// Step takes one optimizer step and returns its training loss (the mean
// over its micro-batches, measured before the update).
func (t *Trainer) Step() (float64, error) {
	start := time.Now()
	o := t.Options
	s := t.Opt.Step
	for _, g := range t.gparams {
		clear(g.Data)
	}
	var loss float64
	for k := 0; k < o.GradAccum; k++ {
		l, err := t.microBatch(s*o.GradAccum+k, 1/float32(o.GradAccum))
		if err != nil {
			return 0, err
		}
		loss += l
	}
	loss /= float64(o.GradAccum)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("train: step %d: the loss is %v (try a lower learning rate)", s+1, loss)
	}
	norm := ClipGradNorm(t.gparams, o.GradClip)
	lr := o.LearningRate(s)
	t.Opt.Update(t.params, t.gparams, lr)
	h := &t.History
	h.Losses = append(h.Losses, loss)
	h.LRs = append(h.LRs, lr)
	h.GradNorms = append(h.GradNorms, norm)
	h.Tokens += int64(o.GradAccum * o.BatchSize * o.SeqLen)
	d := time.Since(start).Seconds()
	h.Seconds += d
	h.StepSeconds += d
	return loss, nil
}

// Evaluate returns the mean loss per token on the held-out data
// (EvalBatches micro-batches from its start, or all of it), and records it
// in the history. It returns NaN when there is no held-out data.
func (t *Trainer) Evaluate(ctx context.Context) (float64, error) {
	if len(t.eval) == 0 {
		return math.NaN(), nil
	}
	start := time.Now()
	o, m := t.Options, t.Model
	c := m.Config
	T, C := o.SeqLen, c.NEmbd
	nb := (rows(len(t.eval), T) + o.BatchSize - 1) / o.BatchSize
	if o.EvalBatches > 0 {
		nb = min(nb, o.EvalBatches)
	}
	var sum float64
	var count int
	for j := 0; j < nb; j++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n := evalBatch(t.inputs, t.targets, t.eval, j, o)
		x0, err := m.EmbedInto(t.x0, t.inputs[:n*T])
		if err != nil {
			return 0, err
		}
		t.x0 = x0
		p, err := m.ForwardPass(x0, n, T, gpt2.PassOptions{Reuse: t.pass})
		if err != nil {
			return 0, err
		}
		t.pass = p
		sum += headLoss(p.LNF, t.targets, n*T, C, c.VocabSize, m.Weights.LMHead, 0, nil, nil, t.logits)
		count += n * T
	}
	loss := sum / float64(count)
	t.History.EvalLosses = append(t.History.EvalLosses, EvalPoint{Step: t.Opt.Step, Loss: loss})
	t.History.Seconds += time.Since(start).Seconds()
	return loss, nil
}

// Event is what Run reports after each step.
type Event struct {
	Step     int     // steps taken
	Loss     float64 // this step's training loss
	LR       float64 // this step's learning rate
	EvalLoss float64 // the held-out loss measured after this step, NaN if none
	// TokensPerSecond is the training throughput so far.
	TokensPerSecond float64
}

// Run takes steps until Options.Steps, evaluating every EvalEvery steps
// and at the end, calling checkpoint (when not nil) every CheckpointEvery
// steps and at the end, and report (when not nil) after each step. It
// stops early, with the context's error, when ctx is cancelled (after
// writing a checkpoint, so that --resume continues from there).
func (t *Trainer) Run(ctx context.Context, report func(Event), checkpoint func() error) error {
	o := t.Options
	for t.Opt.Step < o.Steps {
		if err := ctx.Err(); err != nil {
			if checkpoint != nil {
				if cerr := checkpoint(); cerr != nil {
					return cerr
				}
			}
			return err
		}
		loss, err := t.Step()
		if err != nil {
			return err
		}
		s := t.Opt.Step
		ev := Event{Step: s, Loss: loss, LR: t.History.LRs[s-1], EvalLoss: math.NaN(), TokensPerSecond: t.TokensPerSecond()}
		if len(t.eval) > 0 && (s == o.Steps || o.EvalEvery > 0 && s%o.EvalEvery == 0) {
			if ev.EvalLoss, err = t.Evaluate(ctx); err != nil {
				return err
			}
		}
		if report != nil {
			report(ev)
		}
		if checkpoint != nil && (s == o.Steps || o.CheckpointEvery > 0 && s%o.CheckpointEvery == 0) {
			if err := checkpoint(); err != nil {
				return err
			}
		}
	}
	return nil
}

// NumParams is the number of trained parameters (a tied LM head counted
// once).
func (t *Trainer) NumParams() int {
	n := 0
	for _, p := range t.params {
		n += len(p.Data)
	}
	return n
}

// TokensPerSecond is the training tokens per second of step time so far.
func (t *Trainer) TokensPerSecond() float64 {
	if t.History.StepSeconds == 0 {
		return 0
	}
	return float64(t.History.Tokens) / t.History.StepSeconds
}
