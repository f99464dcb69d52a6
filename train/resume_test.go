package train

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

// TestResumeBitForBit checks that a run stopped at a checkpoint and
// resumed gives exactly the losses and weights of the uninterrupted run,
// with random data order and dropout (whose draws must not depend on the
// interruption).
func TestResumeBitForBit(t *testing.T) {
	toks := loadTokens(t)
	o := DefaultOptions()
	o.BatchSize, o.SeqLen, o.Steps, o.Warmup, o.LR = 2, 16, 8, 2, 3e-3
	o.Dropout, o.GradAccum, o.EvalEvery, o.EvalBatches = 0.1, 2, 4, 2
	train, eval := toks[:3000], toks[3000:]

	full, err := New(loadTiny(t), train, eval, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Run(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "checkpoint")
	first, err := New(loadTiny(t), train, eval, o)
	if err != nil {
		t.Fatal(err)
	}
	for first.Opt.Step < 5 { // stopped after 5 of 8 steps
		if _, err := first.Step(); err != nil {
			t.Fatal(err)
		}
		if first.Opt.Step == 4 {
			if _, err := first.Evaluate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := first.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	resumed, err := Resume(dir, train, eval, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := resumed.Run(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(full.History.Losses, resumed.History.Losses) {
		t.Errorf("losses differ:\nfull    %v\nresumed %v", full.History.Losses, resumed.History.Losses)
	}
	if len(full.History.EvalLosses) != len(resumed.History.EvalLosses) {
		t.Errorf("eval losses: full %v, resumed %v", full.History.EvalLosses, resumed.History.EvalLosses)
	}
	fp, rp := full.params, resumed.params
	for i := range fp {
		for j := range fp[i].Data {
			if math.Float32bits(fp[i].Data[j]) != math.Float32bits(rp[i].Data[j]) {
				t.Fatalf("%s[%d]: %v after the full run, %v after resuming", fp[i].Name, j, fp[i].Data[j], rp[i].Data[j])
			}
		}
	}
	if _, err := Resume(dir, train[:2000], eval, 0); err == nil {
		t.Error("resuming on other data succeeded")
	}
}

// TestLossFalls trains the tiny model on its token stream and checks that
// the held-out loss falls well below its start, with dropout on.
func TestLossFalls(t *testing.T) {
	toks := loadTokens(t)
	o := DefaultOptions()
	o.BatchSize, o.SeqLen, o.Steps, o.Warmup, o.LR, o.Dropout = 8, 16, 60, 5, 1e-2, 0.1
	o.EvalEvery, o.EvalBatches = 0, 0
	tr, err := New(loadTiny(t), toks[:3500], toks[3500:], o)
	if err != nil {
		t.Fatal(err)
	}
	before, err := tr.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	after := tr.History.EvalLosses[len(tr.History.EvalLosses)-1].Loss
	t.Logf("held-out loss %.3f -> %.3f", before, after)
	if !(after < before-1) {
		t.Errorf("held-out loss %.3f -> %.3f: want a fall of more than 1 nat", before, after)
	}
}

func TestOptionErrors(t *testing.T) {
	toks := loadTokens(t)
	for _, tc := range []struct {
		name string
		mod  func(*Options)
	}{
		{"batch", func(o *Options) { o.BatchSize = 0 }},
		{"seq too long", func(o *Options) { o.SeqLen = 33 }},
		{"schedule", func(o *Options) { o.Schedule = "linear" }},
		{"beta2", func(o *Options) { o.Beta2 = 1 }},
		{"dropout", func(o *Options) { o.Dropout = 1 }},
		{"order", func(o *Options) { o.DataOrder = "shuffled" }},
		{"lr", func(o *Options) { o.LR = math.NaN() }},
	} {
		o := DefaultOptions()
		o.SeqLen = 16
		tc.mod(&o)
		if _, err := New(loadTiny(t), toks, nil, o); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	o := DefaultOptions()
	o.SeqLen = 16
	if _, err := New(loadTiny(t), toks[:10], nil, o); err == nil {
		t.Error("10 tokens for sequences of 16: no error")
	}
	if _, err := New(loadTiny(t), []int32{1, 2, 300}, nil, Options{}); err == nil {
		t.Error("zero options: no error")
	}
}

func TestSchedule(t *testing.T) {
	o := DefaultOptions()
	o.Steps, o.Warmup, o.LR, o.MinLR = 11, 2, 1, 0.1
	for _, c := range []struct {
		s    int
		want float64
	}{{0, 0.5}, {1, 1}, {2, 1}, {10, 0.1}, {6, 0.55}} {
		if got := o.LearningRate(c.s); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cosine step %d: %v, want %v", c.s, got, c.want)
		}
	}
	o.Schedule = "constant"
	if got := o.LearningRate(10); got != 1 {
		t.Errorf("constant: %v", got)
	}
}
