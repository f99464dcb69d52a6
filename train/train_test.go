package train

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/npy"
)

const tinyDir = "../model/gpt2/testdata/tiny"

type goldenRun struct {
	Options struct {
		BatchSize   int     `json:"batch_size"`
		SeqLen      int     `json:"seq_len"`
		Steps       int     `json:"steps"`
		GradAccum   int     `json:"grad_accum"`
		LR          float64 `json:"lr"`
		MinLR       float64 `json:"min_lr"`
		Schedule    string  `json:"schedule"`
		Warmup      int     `json:"warmup"`
		WeightDecay float64 `json:"weight_decay"`
		Beta1       float64 `json:"beta1"`
		Beta2       float64 `json:"beta2"`
		Eps         float64 `json:"eps"`
		GradClip    float64 `json:"grad_clip"`
	} `json:"options"`
	Losses    []float64 `json:"losses"`
	GradNorms []float64 `json:"grad_norms"`
}

func (g goldenRun) options() Options {
	o := DefaultOptions()
	r := g.Options
	o.BatchSize, o.SeqLen, o.Steps, o.GradAccum = r.BatchSize, r.SeqLen, r.Steps, r.GradAccum
	o.LR, o.MinLR, o.Schedule, o.Warmup = r.LR, r.MinLR, r.Schedule, r.Warmup
	o.WeightDecay, o.Beta1, o.Beta2, o.Eps, o.GradClip = r.WeightDecay, r.Beta1, r.Beta2, r.Eps, r.GradClip
	o.DataOrder, o.Dropout = "sequential", 0
	return o
}

func loadTiny(t testing.TB) *gpt2.Model {
	t.Helper()
	m, err := gpt2.Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.Clone()
}

func loadTokens(t testing.TB) []int32 {
	t.Helper()
	toks, err := npy.ReadInts("testdata/tokens.npy")
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// TestMatchesPyTorch trains the tiny checkpoint with the settings of
// testdata/golden.json (written by train_ref.py: torch.optim.AdamW,
// clip_grad_norm_, the same batches) and compares every step's loss and
// gradient norm.
func TestMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var runs []goldenRun
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatal(err)
	}
	toks := loadTokens(t)
	for i, g := range runs {
		tr, err := New(loadTiny(t), toks, nil, g.options())
		if err != nil {
			t.Fatal(err)
		}
		worst, worstNorm := 0.0, 0.0
		for s := range g.Losses {
			loss, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			worst = math.Max(worst, math.Abs(loss-g.Losses[s]))
			worstNorm = math.Max(worstNorm, math.Abs(tr.History.GradNorms[s]-g.GradNorms[s])/g.GradNorms[s])
		}
		t.Logf("setting %d: largest loss difference %.2g, gradient norm relative %.2g over %d steps", i, worst, worstNorm, len(g.Losses))
		if worst > 1e-4 || worstNorm > 1e-4 {
			t.Errorf("setting %d: loss differs by %g, gradient norm by %g (relative) from PyTorch", i, worst, worstNorm)
		}
	}
}
