package bert

import (
	"math"
	"path/filepath"
	"testing"
)

// meanPooled returns sentence-transformers' mean pooling + L2 normalisation
// of out, one vector per sequence.
func meanPooled(out *Output) [][]float64 {
	B, T, H := out.Batch, out.SeqLen, out.HiddenSize
	vecs := make([][]float64, B)
	for b := range vecs {
		v := make([]float64, H)
		n := 0.0
		for t := 0; t < T; t++ {
			if out.Mask[b*T+t] == 0 {
				continue
			}
			n++
			for h := 0; h < H; h++ {
				v[h] += float64(out.LastHidden[(b*T+t)*H+h])
			}
		}
		norm := 0.0
		for h := range v {
			v[h] /= max(n, 1e-9)
			norm += v[h] * v[h]
		}
		for h := range v {
			v[h] /= math.Sqrt(norm)
		}
		vecs[b] = v
	}
	return vecs
}

// cosines returns the smallest and the mean cosine similarity of
// corresponding unit vectors.
func cosines(a, b [][]float64) (lo, mean float64) {
	lo = 1
	for i := range a {
		c := 0.0
		for h := range a[i] {
			c += a[i][h] * b[i][h]
		}
		lo = math.Min(lo, c)
		mean += c / float64(len(a))
	}
	return lo, mean
}

// benchIDs are the token ids of BenchmarkMiniLMForward and bench/embed.sh:
// 32 sentences of 32 tokens.
func benchIDs(vocab int) [][]int {
	ids := make([][]int, 32)
	for i := range ids {
		ids[i] = make([]int, 32)
		for j := range ids[i] {
			ids[i][j] = (i*131 + j*17) % vocab
		}
	}
	return ids
}

func miniLM(t *testing.T) (*Model, golden, []float32) {
	t.Helper()
	dir := filepath.Join("testdata", "minilm")
	g, hidden, _ := readGolden(t, dir)
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromSource(cfg, prngSource(cfg, g.Prefix, true))
	if err != nil {
		t.Fatal(err)
	}
	return m, g, hidden
}

// TestQuantizedMiniLM runs the all-MiniLM-L6-v2-shaped model (random
// weights, as in TestMiniLMShapeParity) at int8 and int7 precision. The
// mean-pooled, normalised embeddings must have cosine similarity ≥ 0.999
// with the float32 ones, on the golden batch (padded, varied lengths) and
// on the benchmark batch (32 × 32 tokens); last_hidden_state must stay
// within 0.2 (max abs) of PyTorch's float32 golden output, whose values are
// of order 1 after the final LayerNorm.
func TestQuantizedMiniLM(t *testing.T) {
	m, g, hidden := miniLM(t)
	bench := Input{IDs: benchIDs(m.Config.VocabSize)}
	golden := Input{IDs: g.IDs, TypeIDs: g.TypeIDs}
	ref := map[string][][]float64{}
	for name, in := range map[string]Input{"golden": golden, "bench": bench} {
		out, err := m.Forward(in)
		if err != nil {
			t.Fatal(err)
		}
		ref[name] = meanPooled(out)
	}
	for _, p := range []string{Int8, Int7} {
		if err := m.Quantize(p); err != nil {
			t.Fatal(err)
		}
		if m.Precision() != p {
			t.Fatalf("Precision() = %q after Quantize(%q)", m.Precision(), p)
		}
		for _, name := range []string{"golden", "bench"} {
			in := golden
			if name == "bench" {
				in = bench
			}
			out, err := m.Forward(in)
			if err != nil {
				t.Fatal(err)
			}
			if name == "golden" {
				d := maxDiff(out.LastHidden, hidden, out.Mask, out.HiddenSize)
				t.Logf("%s: last_hidden_state max abs diff to PyTorch float32 %.3g", p, d)
				if d > 0.2 {
					t.Errorf("%s: last_hidden_state max abs diff to PyTorch float32 %g > 0.2", p, d)
				}
			}
			lo, mean := cosines(meanPooled(out), ref[name])
			t.Logf("%s, %s batch: cosine to float32 embeddings min %.6f mean %.6f", p, name, lo, mean)
			if lo < 0.999 {
				t.Errorf("%s, %s batch: min cosine to float32 embeddings %.6f < 0.999", p, name, lo)
			}
		}
	}
}

// TestQuantizeOff checks that the float32 path is untouched by quantizing
// and switching back: bit-identical output.
func TestQuantizeOff(t *testing.T) {
	m, g, _ := miniLM(t)
	in := Input{IDs: g.IDs, TypeIDs: g.TypeIDs}
	out, err := m.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), out.LastHidden...)
	wantPooled := append([]float32(nil), out.Pooled...)
	if err := m.Quantize(Int8); err != nil {
		t.Fatal(err)
	}
	q, err := m.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	if maxDiff(q.LastHidden, want, nil, 1) == 0 {
		t.Fatal("int8 output is identical to float32: the quantized path did not run")
	}
	if err := m.Quantize("float32"); err != nil {
		t.Fatal(err)
	}
	if m.Precision() != Float32 {
		t.Fatalf("Precision() = %q, want float32 (\"\")", m.Precision())
	}
	out, err = m.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if out.LastHidden[i] != want[i] {
			t.Fatalf("float32 output changed after Quantize(int8) and back: [%d] %v != %v", i, out.LastHidden[i], want[i])
		}
	}
	for i := range wantPooled {
		if out.Pooled[i] != wantPooled[i] {
			t.Fatalf("float32 pooler output changed at %d", i)
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	m, _, _ := miniLM(t)
	for _, p := range []string{"int4", "INT8", "bf16", "fp16"} {
		err := m.Quantize(p)
		if err == nil {
			t.Errorf("Quantize(%q) accepted", p)
			continue
		}
		if want := `bert: unknown precision "` + p + `"`; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("Quantize(%q): error %q, want it to start with %q", p, err, want)
		}
	}
	if m.Precision() != Float32 {
		t.Errorf("a failed Quantize changed the precision to %q", m.Precision())
	}
}

func benchmarkMiniLM(b *testing.B, precision string) {
	cfg, err := ReadConfig(filepath.Join("testdata", "minilm", "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	m, err := FromSource(cfg, prngSource(cfg, "", false))
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Quantize(precision); err != nil {
		b.Fatal(err)
	}
	in := Input{IDs: benchIDs(cfg.VocabSize)}
	if _, err := m.Forward(in); err != nil { // warm-up: buffers, pool
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Forward(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "sentences/s")
}

// BenchmarkMiniLMForwardInt8 is BenchmarkMiniLMForward at int8 precision.
func BenchmarkMiniLMForwardInt8(b *testing.B) { benchmarkMiniLM(b, Int8) }

// BenchmarkMiniLMForwardInt7 is BenchmarkMiniLMForward at int7 precision.
func BenchmarkMiniLMForwardInt7(b *testing.B) { benchmarkMiniLM(b, Int7) }
