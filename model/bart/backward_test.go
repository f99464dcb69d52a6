package bart

import (
	"math"
	"path/filepath"
	"testing"
)

// passInputs returns the token embeddings of src and tgt, the inputs of
// ForwardPass.
func passInputs(t *testing.T, m *Model, src, tgt []int) (xs, xt []float32) {
	t.Helper()
	xs, err := m.EmbedSource(src)
	if err != nil {
		t.Fatal(err)
	}
	xt, err = m.EmbedTarget(tgt)
	if err != nil {
		t.Fatal(err)
	}
	return xs, xt
}

// TestForwardPass checks the differentiable pass's logits against the
// inference pass's (Forward: encoder, cached decoder).
func TestForwardPass(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"bart", "mbart", "marian"} {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, g, name)
			src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
			want, err := m.Forward(src, tgt)
			if err != nil {
				t.Fatal(err)
			}
			xs, xt := passInputs(t, m, src, tgt)
			p, err := m.ForwardPass(xs, xt)
			if err != nil {
				t.Fatal(err)
			}
			rows := make([]int, len(tgt))
			for i := range rows {
				rows[i] = i
			}
			if d := maxAbsDiff(p.Logits(rows), want); d > tol {
				t.Errorf("logits differ from Forward's by %g > %g", d, tol)
			}
		})
	}
}

// TestBackwardFiniteDifferences checks a few input gradients of one
// logit against central differences of the float32 pass.
func TestBackwardFiniteDifferences(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"bart", "mbart", "marian"} {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, g, name)
			src, tgt := g.IDs(t, name+".src")[:6], g.IDs(t, name+".tgt")[:5]
			xs, xt := passInputs(t, m, src, tgt)
			C, Vt := m.Config.DModel, m.Config.DecoderVocab
			const pos, tok = 3, 7
			f := func() float64 {
				p, err := m.ForwardPass(xs, xt)
				if err != nil {
					t.Fatal(err)
				}
				return float64(p.Logits([]int{pos})[tok])
			}
			p, err := m.ForwardPass(xs, xt)
			if err != nil {
				t.Fatal(err)
			}
			dl := make([]float32, Vt)
			dl[tok] = 1
			// Two seeds: the second one's gradient must equal the first's.
			dsrc, dtgt, err := p.Backward([]int{pos, pos}, append(dl, dl...))
			if err != nil {
				t.Fatal(err)
			}
			S, T := len(src), len(tgt)
			for i := range S * C {
				if dsrc[i] != dsrc[S*C+i] {
					t.Fatalf("seeds differ at source value %d", i)
				}
			}
			for r := pos + 1; r < T; r++ {
				for j := range C {
					if dtgt[r*C+j] != 0 {
						t.Fatalf("target row %d after the seed has gradient %g", r, dtgt[r*C+j])
					}
				}
			}
			check := func(what string, x []float32, grad []float32, idx int) {
				const h = 1e-2
				orig := x[idx]
				x[idx] = orig + h
				fp := f()
				x[idx] = orig - h
				fm := f()
				x[idx] = orig
				num := (fp - fm) / (2 * h)
				if got := float64(grad[idx]); math.Abs(got-num) > 2e-3+2e-2*math.Abs(num) {
					t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", what, idx, got, num)
				}
			}
			for _, idx := range []int{0, 5, 2*C + 3, (S-1)*C + C - 1} {
				check("source", xs, dsrc, idx)
			}
			for _, idx := range []int{1, C + 7, pos*C + 2} {
				check("target", xt, dtgt, idx)
			}
		})
	}
}
