package bart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// The golden values come from testdata/reference.py (PyTorch, written as
// transformers' modeling_bart.py / modeling_marian.py compute), regenerated
// with
//
//	/usr/bin/python3 model/bart/testdata/reference.py golden

const tol = 1e-4

// The shared helpers of the parity tests.
var (
	openGolden  = goldentest.Open
	maxAbsDiff  = goldentest.MaxAbsDiff
	cols        = goldentest.Cols
	checkGreedy = goldentest.CheckGreedy
)

// randomModel rebuilds golden model name with Random from the config and
// seed the reference stored in the file's metadata.
func randomModel(t testing.TB, g goldentest.File, name string) *Model {
	t.Helper()
	js, seed := g.Model(t, name)
	cfg, err := ParseConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Random(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// greedy decodes n tokens after decoder_start_token_id with a Decoder,
// EOS ignored, as the reference does.
func greedy(t testing.TB, m *Model, src []int, n int) []int {
	t.Helper()
	enc, err := m.Encode([][]int{src})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: n})
	if err != nil {
		t.Fatal(err)
	}
	tok := m.Config.DecoderStartTokenID
	var out []int
	for range n {
		if err := d.Forward([][]int{{tok}}); err != nil {
			t.Fatal(err)
		}
		tok = kernels.Argmax(d.Logits(0))
		out = append(out, tok)
	}
	return out
}

// checkModel runs every comparison the golden file holds for name.
func checkModel(t *testing.T, g goldentest.File, name string, m *Model, logitCols int) {
	c := m.Config
	Vt := c.DecoderVocab
	src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
	want := g.Get(t, name+".logits")
	wantCols := min(logitCols, Vt)

	// Teacher-forced pass.
	got, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(cols(got, Vt, wantCols), want); d > tol {
		t.Errorf("teacher-forced logits: max |diff| %g > %g", d, tol)
	}
	for i, a := range g.IDs(t, name+".argmax") {
		if b := kernels.Argmax(got[i*Vt : (i+1)*Vt]); b != a {
			t.Errorf("position %d: argmax %d, want %d", i, b, a)
		}
	}

	// KV-cached decoding, one token at a time, equals the teacher-forced
	// pass; the captured cross-attention equals the reference's.
	enc, err := m.Encode([][]int{src})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: len(tgt), CaptureCross: true})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, tok := range tgt {
		if err := d.Forward([][]int{{tok}}); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, maxAbsDiff(d.Logits(0), got[i*Vt:(i+1)*Vt]))
	}
	if worst > tol {
		t.Errorf("cached decoding vs teacher-forced: max |diff| %g > %g", worst, tol)
	}
	cross := g.Get(t, name+".cross_last") // [nh, T, S]
	nh, T, S := c.DecoderHeads, len(tgt), len(src)
	var gotCross []float32
	for h := range nh {
		for p := range T {
			gotCross = append(gotCross, d.CrossAttention(0, c.DecoderLayers-1, h, p)...)
		}
	}
	if len(gotCross) != nh*T*S {
		t.Fatalf("cross-attention: %d values, want %d", len(gotCross), nh*T*S)
	}
	if dd := maxAbsDiff(gotCross, cross); dd > tol {
		t.Errorf("cross-attention probabilities: max |diff| %g > %g", dd, tol)
	}

	// Greedy decoding.
	wantIDs := g.IDs(t, name+".greedy")
	checkGreedy(t, greedy(t, m, src, len(wantIDs)), wantIDs, g.Get(t, name+".margins"))
}

func TestParity(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"bart", "mbart", "marian"} {
		t.Run(name, func(t *testing.T) {
			// Through Save and Load: the file is a Hugging Face layout.
			dir := t.TempDir()
			if err := randomModel(t, g, name).Save(dir, "F32"); err != nil {
				t.Fatal(err)
			}
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkModel(t, g, name, m, m.Config.DecoderVocab)

			// A right-padded batch in the reference; rows of their own
			// length here.
			src0, tgt0 := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
			src1, tgt1 := g.IDs(t, name+".padded.src1"), g.IDs(t, name+".padded.tgt1")
			enc, err := m.Encode([][]int{src0, src1})
			if err != nil {
				t.Fatal(err)
			}
			d, err := m.NewDecoderFor(enc, DecoderOptions{AllLogits: true, MaxLen: len(tgt0)})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Forward([][]int{tgt0, tgt1}); err != nil {
				t.Fatal(err)
			}
			got := append(append([]float32{}, d.AllLogits(0)...), d.AllLogits(1)...)
			if dd := maxAbsDiff(got, g.Get(t, name+".padded.logits")); dd > tol {
				t.Errorf("padded batch: max |diff| %g > %g", dd, tol)
			}
		})
	}
}

// TestCheckpoints loads checkpoints the reference wrote itself: tiny-bart
// (F32, tied embeddings stored four times), tiny-marian (F16, separate
// source and target vocabularies, untied lm_head, stored sinusoidal
// positions).
func TestCheckpoints(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"tiny-bart", "tiny-marian"} {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkModel(t, g, name, m, m.Config.DecoderVocab)
		})
	}
}

// TestLarge checks the opus-mt-en-de geometry (d_model 512, 6+6 layers,
// vocab 58101; random weights) against a golden file made by
//
//	/usr/bin/python3 model/bart/testdata/reference.py golden-large DIR
//
// when LOUPE_BART_LARGE=DIR is set.
func TestLarge(t *testing.T) {
	dir := os.Getenv("LOUPE_BART_LARGE")
	if dir == "" {
		t.Skip("LOUPE_BART_LARGE not set")
	}
	g := openGolden(t, filepath.Join(dir, "golden-large.safetensors"))
	checkModel(t, g, "opus", randomModel(t, g, "opus"), 2048)
}
