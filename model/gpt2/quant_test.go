package gpt2

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// quantStats compares the next-token distributions of two [T, V] logit
// tables row by row.
type quantStats struct {
	cos      float64 // smallest cosine of the log-softmax rows (the measure)
	cosC     float64 // smallest cosine of the centred log-softmax rows (a row's mean subtracted: not inflated by the common offset)
	kl       float64 // mean KL(float32 ‖ int8), nats
	top1     float64 // fraction of rows whose argmax agrees
	maxLPErr float64 // largest |Δ log p| of the float32 argmax token
	unclear  int     // disagreeing rows where float32's best two tokens are within 0.1 logits
	clearBad int     // disagreeing rows where they are further apart
}

func logSoftmax(row []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	out := make([]float64, len(row))
	for i, v := range row {
		out[i] = float64(v) - mx - math.Log(s)
	}
	return out
}

func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

func centred(a []float64) []float64 {
	m := 0.0
	for _, v := range a {
		m += v
	}
	m /= float64(len(a))
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = v - m
	}
	return out
}

func compareLogits(ref, got []float32, V int) quantStats {
	st := quantStats{cos: 1, cosC: 1}
	T := len(ref) / V
	agree := 0
	for t := range T {
		r, g := ref[t*V:(t+1)*V], got[t*V:(t+1)*V]
		lr, lg := logSoftmax(r), logSoftmax(g)
		st.cos = min(st.cos, cosine(lr, lg))
		st.cosC = min(st.cosC, cosine(centred(lr), centred(lg)))
		for i := range lr {
			st.kl += math.Exp(lr[i]) * (lr[i] - lg[i])
		}
		a, b := kernels.Argmax(r), kernels.Argmax(g)
		switch {
		case a == b:
			agree++
		case r[a]-r[b] <= 0.1:
			st.unclear++
		default:
			st.clearBad++
		}
		st.maxLPErr = math.Max(st.maxLPErr, math.Abs(lr[a]-lg[a]))
	}
	st.kl /= float64(T)
	st.top1 = float64(agree) / float64(T)
	return st
}

// teacherIDs is a deterministic token sequence of length n.
func teacherIDs(n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*7919 + 13) % vocab
	}
	return ids
}

// TestQuantizeLogits compares each quantized precision's logits with
// float32 ones on the test checkpoints over a teacher-forced sequence,
// then returns to float32 and gets the float32 logits back exactly (the
// released pages are read again from the file).
//
//   - int8: per-channel int8 weights carry a relative error of about 1/254
//     of each row's largest weight and 7-bit activations about 1/254 of
//     each token's range; over a few layers that moves the logits by a few
//     hundredths, so the log-softmax rows keep a cosine above 0.999
//     (centred: above 0.99) and the argmax agrees at almost every position
//     (not at every one: where float32's two best tokens are within the
//     error, int8 may swap them; random weights give flat distributions
//     whose best two tokens often are, never two tokens 0.1 apart).
//   - bf16: a weight carries a relative error of at most 2⁻⁹ (round to
//     nearest with 8 significant bits), random in sign, while activations,
//     products and sums stay float32: the log-softmax rows keep a cosine
//     of at least 0.9999, and the logits are closer to float32's than
//     int8's are.
//   - f16: a weight carries a relative error of at most 2⁻¹² (11
//     significant bits; these weights are far from the subnormals), eight
//     times less than bf16's: a cosine of at least 0.99999, and the logits
//     are closer to float32's than bf16's are. On the float16 checkpoint
//     f16 may reproduce float32 exactly.
func TestQuantizeLogits(t *testing.T) {
	for _, p := range []struct {
		precision string
		minCos    float64 // smallest log-softmax cosine
		minCosC   float64 // smallest centred log-softmax cosine
		minTop1   float64
		maxMeanKL float64
		closerTo  string // a coarser precision whose logits must be further from float32's ("": none)
		exactOK   string // a checkpoint on which identical logits are no failure
	}{
		{precision: Int8, minCos: 0.999, minCosC: 0.99, minTop1: 0.9, maxMeanKL: 1e-3},
		{precision: BF16, minCos: 0.9999, minCosC: 0.999, minTop1: 0.95, maxMeanKL: 1e-4, closerTo: Int8},
		{precision: F16, minCos: 0.99999, minCosC: 0.9999, minTop1: 0.95, maxMeanKL: 1e-5, closerTo: BF16, exactOK: "tiny_f16"},
	} {
		t.Run(p.precision, func(t *testing.T) {
			wide, err := Random(Config{NLayer: 2, NHead: 12, NEmbd: 768, NPositions: 64, VocabSize: 1024, LayerNormEps: 1e-5, Activation: "gelu_new"}, 2, 0.0625)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				m    *Model
			}{
				{"tiny", loadTiny(t, "tiny")},
				{"tiny_f16", loadTiny(t, "tiny_f16")},
				{"wide", wide},
			} {
				m := c.m
				ids := teacherIDs(m.Config.NPositions, m.Config.VocabSize)
				ref, err := m.Forward(ids, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Quantize(p.precision); err != nil {
					t.Fatal(err)
				}
				if m.Precision() != p.precision {
					t.Errorf("%s: Precision() = %q after Quantize(%s)", c.name, m.Precision(), p.precision)
				}
				got, err := m.Forward(ids, nil)
				if err != nil {
					t.Fatal(err)
				}
				st := compareLogits(ref, got, m.Config.VocabSize)
				t.Logf("%s: %d positions: log-softmax cosine ≥ %.8f (centred %.8f), mean KL %.2e, top-1 agreement %.3f (%d swaps within 0.1 logits, %d beyond), largest |Δ log p(top-1)| %.6f",
					c.name, len(ids), st.cos, st.cosC, st.kl, st.top1, st.unclear, st.clearBad, st.maxLPErr)
				if st.cos < p.minCos || st.cosC < p.minCosC || st.top1 < p.minTop1 || st.kl > p.maxMeanKL || st.clearBad > 0 {
					t.Errorf("%s: %s too far from float32: %+v", c.name, p.precision, st)
				}
				d := maxAbsDiff(ref, got)
				if d == 0 && c.name != p.exactOK {
					t.Errorf("%s: %s logits identical to float32: the quantized path did not run", c.name, p.precision)
				}
				if p.closerTo != "" {
					if err := m.Quantize(p.closerTo); err != nil {
						t.Fatal(err)
					}
					coarse, err := m.Forward(ids, nil)
					if err != nil {
						t.Fatal(err)
					}
					if dc := maxAbsDiff(ref, coarse); d >= dc {
						t.Errorf("%s: %s logits %g from float32, %s %g: want %s closer", c.name, p.precision, d, p.closerTo, dc, p.precision)
					}
				}
				if err := m.Quantize("none"); err != nil {
					t.Fatal(err)
				}
				back, err := m.Forward(ids, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(ref, back); d != 0 {
					t.Errorf("%s: float32 logits differ by %g after Quantize(%s) and back", c.name, d, p.precision)
				}
			}
		})
	}
}

// TestQuantizeDecode checks that each quantized model decodes with the
// key/value cache and in batches as it computes a whole sequence at once:
// int8 quantizes activations per token, and BF16Linear and F16Linear
// compute every row the same way, so every row is computed the same way
// however the rows are grouped.
func TestQuantizeDecode(t *testing.T) {
	for _, p := range []string{Int8, BF16, F16} {
		t.Run(p, func(t *testing.T) {
			m, err := LoadWith(filepath.Join("testdata", "tiny"), LoadOptions{Quantize: p})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Precision() != p || m.QuantizedBytes() == 0 {
				t.Fatalf("Precision %q, QuantizedBytes %d", m.Precision(), m.QuantizedBytes())
			}
			V := m.Config.VocabSize
			a, b := teacherIDs(20, V), teacherIDs(27, V)[7:]
			wantA, err := m.Forward(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantB, err := m.Forward(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Batch of two, then one token at a time.
			s := m.NewState(StateOptions{Batch: 2, MaxSeq: 32})
			if err := s.Forward([][]int{a[:5], b[:11]}, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			compare(t, "batch prefill a", s.Logits(0), wantA[4*V:5*V])
			compare(t, "batch prefill b", s.Logits(1), wantB[10*V:11*V])
			for i := 5; i < len(a); i++ {
				toks := [][]int{{a[i]}, nil}
				if 6+i < len(b) {
					toks[1] = []int{b[6+i]}
				}
				if err := s.Forward(toks, ForwardOptions{}); err != nil {
					t.Fatal(err)
				}
				compare(t, "decode a", s.Logits(0), wantA[i*V:(i+1)*V])
				if toks[1] != nil {
					compare(t, "decode b", s.Logits(1), wantB[(6+i)*V:(7+i)*V])
				}
			}
		})
	}
}

func TestQuantizeErrors(t *testing.T) {
	for _, p := range []string{"int4", "INT8", "BF16", "bfloat16", "int7", "F16", "fp16", "half"} {
		_, err := LoadWith(filepath.Join("testdata", "tiny"), LoadOptions{Quantize: p})
		if err == nil || !strings.Contains(err.Error(), `precision "`+p+`" (want none, float32, int8, bf16 or f16)`) {
			t.Errorf("LoadWith(Quantize %q): error %v", p, err)
		}
	}
	m := loadTiny(t, "tiny")
	if err := m.Quantize("int4"); err == nil {
		t.Error("Quantize(int4) accepted")
	}
	if err := m.Quantize(Int8); err != nil {
		t.Fatal(err)
	}
	C := m.Config.NEmbd
	x := make([]float32, 4*C)
	if _, err := m.ForwardPass(x, 1, 4, PassOptions{Train: true}); !errors.Is(err, ErrQuantizedTraining) {
		t.Errorf("training pass on a quantized model: error %v, want ErrQuantizedTraining", err)
	}
	// Explain's saliency pass stays float32 and works.
	if _, err := m.ForwardPass(x, 1, 4, PassOptions{}); err != nil {
		t.Errorf("float32 pass on a quantized model: %v", err)
	}
}

// TestQuantizeReleasesMapped checks which weights Quantize releases: those
// mapped from an F32 file, never a heap copy (F16 checkpoint, Random).
func TestQuantizeReleasesMapped(t *testing.T) {
	for _, c := range []struct {
		dir    string
		mapped bool
	}{{"tiny", true}, {"tiny_f16", false}} {
		m := loadTiny(t, c.dir)
		w := &m.Weights
		for _, x := range [][]float32{w.Blocks[0].AttnW, w.Blocks[1].ProjW, w.LMHead} {
			if m.isMapped(x) != c.mapped {
				t.Errorf("%s: isMapped = %v, want %v", c.dir, m.isMapped(x), c.mapped)
			}
		}
		if m.isMapped(nil) {
			t.Error("isMapped(nil)")
		}
	}
}

// TestDecodeAllocsQuantized checks that a decoding step with a quantized
// model allocates nothing in gpt2: QLinear pools its work buffers (int8:
// only the kernels' LayerNorm and GELU may allocate), BF16Linear and
// F16Linear pool their jobs (bf16 and f16: nothing at all, kernel
// included).
func TestDecodeAllocsQuantized(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	x := make([]float32, 64)
	ln := testing.AllocsPerRun(20, func() { kernels.LayerNorm(x, x, x, x, 1, 64, 1e-5) })
	gelu := testing.AllocsPerRun(20, func() { kernels.GeluTanh(x, x) })
	for _, c := range []struct {
		precision    string
		kernelAllocs bool // the kernels' LayerNorm and GELU allocations are allowed
	}{{Int8, true}, {BF16, false}, {F16, false}} {
		t.Run(c.precision, func(t *testing.T) {
			m, err := LoadWith(filepath.Join("testdata", "tiny"), LoadOptions{Quantize: c.precision})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := m.NewState(StateOptions{})
			if err := s.Forward([][]int{{3, 4, 5}}, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			tok := [][]int{{1}}
			n := testing.AllocsPerRun(50, func() {
				s.Truncate(0, 3)
				if err := s.Forward(tok, ForwardOptions{}); err != nil {
					t.Fatal(err)
				}
			})
			budget := 0.0
			if c.kernelAllocs {
				L := float64(m.Config.NLayer)
				budget = (2*L+1)*ln + L*gelu
			}
			if n > budget {
				t.Errorf("%s decode step allocates %v times, want at most %v (the kernels' LayerNorm and GELU)", c.precision, n, budget)
			}
		})
	}
}

// TestQuantizeSmallQuality measures each quantized precision against
// float32 on GPT-2 small's geometry (random weights, as bench/gpt2.sh's
// checkpoint): teacher-forced next-token log-probabilities over 1,000
// positions. The target: cosine ≥ 0.999 and top-1 agreement ≥
// 98 %. It is slow on a small machine: set LOUPE_QUANT_SMALL=1.
//
// For int8 the agreement required is only where the choice is clear: this
// checkpoint's weights are random, its next-token distributions so flat
// that at 37 % of these positions float32's best two tokens are within
// 0.05 logits of each other (62 % within 0.1), less than int8's error (a
// few hundredths; the LM head alone in int8 swaps 2.6 %). So int8 must
// not swap two tokens 0.1 logits apart, and a top-1 agreement under 98 %
// is logged (generate's TestQuantizeInt8Heldout measures top-1 on the
// trained default model).
func TestQuantizeSmallQuality(t *testing.T) {
	if os.Getenv("LOUPE_QUANT_SMALL") == "" {
		t.Skip("set LOUPE_QUANT_SMALL=1 (builds a GPT-2 small sized model)")
	}
	m, err := Random(gpt2Small, 3, 0.0625)
	if err != nil {
		t.Fatal(err)
	}
	ids := teacherIDs(1000, m.Config.VocabSize)
	ref, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		precision   string
		requireTop1 bool // top-1 agreement ≥ 98 % is required, not only logged
	}{{Int8, false}, {F16, true}, {BF16, true}} {
		t.Run(c.precision, func(t *testing.T) {
			if err := m.Quantize(c.precision); err != nil {
				t.Fatal(err)
			}
			got, err := m.Forward(ids, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := compareLogits(ref, got, m.Config.VocabSize)
			t.Logf("%s, GPT-2 small geometry, %d teacher-forced positions: log-softmax cosine ≥ %.7f (centred %.7f), mean KL %.2e nats, top-1 agreement %.4f (%d swaps within 0.1 logits, %d beyond), largest |Δ log p(top-1)| %.5f; weights %.1f MB of %.1f MB float32",
				c.precision, len(ids), st.cos, st.cosC, st.kl, st.top1, st.unclear, st.clearBad, st.maxLPErr, float64(m.QuantizedBytes())/1e6, float64(m.WeightBytes())/1e6)
			if st.cos < 0.999 || st.clearBad > 0 || (c.requireTop1 && st.top1 < 0.98) {
				t.Errorf("%s too far from float32: %+v", c.precision, st)
			}
			if !c.requireTop1 && st.top1 < 0.98 {
				t.Logf("top-1 agreement %.4f is below the issue's 98 %%: every swap is between tokens within 0.1 logits", st.top1)
			}
		})
	}
}

// TestQuantizeHeadParts: the LM head quantized in parts (the last one
// short) gives the logits of the head in one piece, exactly.
func TestQuantizeHeadParts(t *testing.T) {
	m := loadTiny(t, "tiny")
	ids := teacherIDs(20, m.Config.VocabSize)
	if err := m.Quantize(Int8); err != nil {
		t.Fatal(err)
	}
	whole, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := headRows
	defer func() { headRows = old }()
	headRows = 48 // vocab 100: parts of 48, 48 and 4 rows
	if err := m.Quantize(Int8); err != nil {
		t.Fatal(err)
	}
	if n := len(m.quant.head); n != 3 {
		t.Fatalf("%d head parts, want 3", n)
	}
	parts, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(whole, parts); d != 0 {
		t.Errorf("head in parts: logits differ by %g", d)
	}
	// Decoding one token (the one-row path) too.
	s := m.NewState(StateOptions{})
	if err := s.Forward([][]int{ids}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	if d := maxAbsDiff(s.Logits(0), whole[(len(ids)-1)*V:]); d > 1e-4 {
		t.Errorf("last-position logits differ by %g", d)
	}
}
