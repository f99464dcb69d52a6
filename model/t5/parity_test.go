package t5

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// The golden values come from testdata/reference.py (PyTorch, written as
// transformers' modeling_t5.py computes), regenerated with
//
//	/usr/bin/python3 model/t5/testdata/reference.py golden

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

// greedy decodes n tokens after decoder_start_token_id, EOS ignored, as the
// reference does.
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
	V := c.VocabSize
	src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
	want := g.Get(t, name+".logits")

	// Teacher-forced pass.
	got, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	tf := maxAbsDiff(cols(got, V, min(logitCols, V)), want)
	if tf > tol {
		t.Errorf("teacher-forced logits: max |diff| %g > %g", tf, tol)
	}
	for i, a := range g.IDs(t, name+".argmax") {
		if b := kernels.Argmax(got[i*V : (i+1)*V]); b != a {
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
		worst = max(worst, maxAbsDiff(d.Logits(0), got[i*V:(i+1)*V]))
	}
	if worst > tol {
		t.Errorf("cached decoding vs teacher-forced: max |diff| %g > %g", worst, tol)
	}
	cross := g.Get(t, name+".cross_last") // [nh, T, S]
	nh, T, S := c.Heads, len(tgt), len(src)
	var gotCross []float32
	for h := range nh {
		for p := range T {
			gotCross = append(gotCross, d.CrossAttention(0, c.DecoderLayers-1, h, p)...)
		}
	}
	if len(gotCross) != nh*T*S {
		t.Fatalf("cross-attention: %d values, want %d", len(gotCross), nh*T*S)
	}
	cr := maxAbsDiff(gotCross, cross)
	if cr > tol {
		t.Errorf("cross-attention probabilities: max |diff| %g > %g", cr, tol)
	}
	t.Logf("max |diff|: teacher-forced logits %.2g, cached vs teacher-forced %.2g, cross-attention %.2g", tf, worst, cr)

	wantIDs := g.IDs(t, name+".greedy")
	checkGreedy(t, greedy(t, m, src, len(wantIDs)), wantIDs, g.Get(t, name+".margins"))
}

func TestParity(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"t5", "t5v11", "t5grelu", "t5gelu"} {
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
			checkModel(t, g, name, m, m.Config.VocabSize)

			// A right-padded batch with attention masks in the reference;
			// rows of their own length here.
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

// TestBuckets compares bucket with torch's _relative_position_bucket for
// every relative position in [-1500, 1500] and several bucket counts and
// distances, both directions.
func TestBuckets(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	const span = 1500
	for _, c := range [][2]int{{32, 128}, {16, 20}, {8, 7}, {6, 1000}} {
		for _, bi := range []bool{true, false} {
			name := fmt.Sprintf("buckets.%d.%d.%s", c[0], c[1], map[bool]string{true: "bi", false: "causal"}[bi])
			want := g.IDs(t, name)
			bad := 0
			for i, w := range want {
				rel := i - span
				if b := bucket(rel, bi, c[0], c[1]); b != w {
					if bad++; bad <= 5 {
						t.Errorf("%s: relative position %d: bucket %d, want %d", name, rel, b, w)
					}
				}
			}
		}
	}
}

// TestCheckpoint loads tiny-t5, a BF16 checkpoint the reference wrote
// itself with the tied copies (encoder/decoder embed_tokens, lm_head) and
// the decoder's unused cross-attention relative bias stored.
func TestCheckpoint(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	m, err := Load(filepath.Join("testdata", "tiny-t5"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkModel(t, g, "tiny-t5", m, m.Config.VocabSize)
}

// TestLarge checks the t5-small (v1.0) and flan-t5-small (v1.1) geometries
// (random weights; first 2048 logit columns, argmax over all 32128)
// against a golden file made by
//
//	/usr/bin/python3 model/t5/testdata/reference.py golden-large DIR
//
// when LOUPE_T5_LARGE=DIR is set.
func TestLarge(t *testing.T) {
	dir := os.Getenv("LOUPE_T5_LARGE")
	if dir == "" {
		t.Skip("LOUPE_T5_LARGE not set")
	}
	g := openGolden(t, filepath.Join(dir, "golden-large.safetensors"))
	for _, name := range []string{"t5-small", "flan-t5-small"} {
		t.Run(name, func(t *testing.T) { checkModel(t, g, name, randomModel(t, g, name), 2048) })
	}
}
