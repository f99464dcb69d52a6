package t5

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/safetensors"
)

// The golden values come from testdata/reference.py (PyTorch, written as
// transformers' modeling_t5.py computes), regenerated with
//
//	/usr/bin/python3 model/t5/testdata/reference.py golden

const tol = 1e-4

type golden struct{ f *safetensors.File }

func openGolden(t testing.TB, path string) golden {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return golden{f}
}

func (g golden) get(t testing.TB, name string) []float32 {
	t.Helper()
	v, err := g.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (g golden) ids(t testing.TB, name string) []int {
	v := g.get(t, name)
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// model rebuilds golden model name with Random from the config and seed
// stored in the file's metadata.
func (g golden) model(t testing.TB, name string) *Model {
	t.Helper()
	md := g.f.Metadata()
	cfg, err := ParseConfig([]byte(md[name+".config"]))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := strconv.ParseUint(md[name+".seed"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Random(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// cols keeps the first n columns of each row of x (width w).
func cols(x []float32, w, n int) []float32 {
	if n >= w {
		return x
	}
	out := make([]float32, 0, len(x)/w*n)
	for r := 0; r < len(x)/w; r++ {
		out = append(out, x[r*w:r*w+n]...)
	}
	return out
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

// checkGreedy compares greedy ids: a difference is only allowed after a
// step whose two best reference logits were closer than 1e-3 (float32
// rounding may then flip the choice).
func checkGreedy(t *testing.T, got, want []int, margins []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			if margins[i] < 1e-3 {
				t.Logf("greedy ids part at step %d after a near tie (margin %g)", i, margins[i])
				return
			}
			t.Fatalf("greedy ids differ at step %d: got %v, want %v (margin %g)", i, got, want, margins[i])
		}
	}
}

// checkModel runs every comparison the golden file holds for name.
func checkModel(t *testing.T, g golden, name string, m *Model, logitCols int) {
	c := m.Config
	V := c.VocabSize
	src, tgt := g.ids(t, name+".src"), g.ids(t, name+".tgt")
	want := g.get(t, name+".logits")

	// Teacher-forced pass.
	got, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	tf := maxAbsDiff(cols(got, V, min(logitCols, V)), want)
	if tf > tol {
		t.Errorf("teacher-forced logits: max |diff| %g > %g", tf, tol)
	}
	for i, a := range g.ids(t, name+".argmax") {
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
	cross := g.get(t, name+".cross_last") // [nh, T, S]
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

	wantIDs := g.ids(t, name+".greedy")
	checkGreedy(t, greedy(t, m, src, len(wantIDs)), wantIDs, g.get(t, name+".margins"))
}

func TestParity(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"t5", "t5v11", "t5grelu", "t5gelu"} {
		t.Run(name, func(t *testing.T) {
			// Through Save and Load: the file is a Hugging Face layout.
			dir := t.TempDir()
			if err := g.model(t, name).Save(dir, "F32"); err != nil {
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
			src0, tgt0 := g.ids(t, name+".src"), g.ids(t, name+".tgt")
			src1, tgt1 := g.ids(t, name+".padded.src1"), g.ids(t, name+".padded.tgt1")
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
			if dd := maxAbsDiff(got, g.get(t, name+".padded.logits")); dd > tol {
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
			want := g.ids(t, name)
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
		t.Run(name, func(t *testing.T) { checkModel(t, g, name, g.model(t, name), 2048) })
	}
}
