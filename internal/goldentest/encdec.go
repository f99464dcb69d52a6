package goldentest

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Decoder is what the shared encoder-decoder checks need of a model's
// KV-cached decoder (bart.Decoder and t5.Decoder have these methods).
type Decoder interface {
	Forward(tokens [][]int) error
	Logits(row int) []float32
	AllLogits(row int) []float32
	Hidden(row int) []float32
	Len(row int) int
	SourceLen(row int) int
	CrossAttention(row, layer, head, pos int) []float32
	SelfAttention(row, layer, head, pos int) []float32
	LayerHidden(row, layer, pos int) []float32
	Truncate(row, n int)
	Reorder(from []int, spare int)
	CopySeq(dst, src int)
	Reset()
}

// DecoderOptions are the decoder options the shared checks set. They have
// the fields of bart's and t5's DecoderOptions, in their order, so that a
// package's EncDec converts them: DecoderOptions(o).
type DecoderOptions struct {
	Batch         int  // rows (0: one a row of the encoder's output)
	MaxLen        int  // target positions a row (0: the model's limit)
	MaxSource     int  // source positions a row (0: the longest source)
	MaxRows       int  // new tokens a pass (0: the model's default)
	AllLogits     bool // keep every position's logits
	CaptureCross  bool // keep the cross-attention probabilities
	CaptureHidden bool // keep every layer's output (LayerHidden)
	CaptureSelf   bool // keep the decoder's self-attention probabilities
}

// Encoded is what the shared checks need of an encoder's output.
type Encoded interface {
	// Attention is the captured self-attention probabilities of a row,
	// layer and head, [S, S] (nil when not captured).
	Attention(row, layer, head int) []float32
}

// Pass is what the shared checks need of a differentiable pass.
type Pass interface {
	Logits(rows []int) []float32
	Backward(seeds []int, dlogits []float32) (dsrc, dtgt []float32, err error)
}

// AsDecoder returns d as a Decoder, or a nil Decoder with err (not a
// Decoder holding a nil pointer).
func AsDecoder[D Decoder](d D, err error) (Decoder, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// AsPass returns p as a Pass, or a nil Pass with err.
func AsPass[P Pass](p P, err error) (Pass, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// RandomModel rebuilds golden model name with random (a package's
// Random) from the config (read with parse) and seed the reference
// stored in the file's metadata.
func RandomModel[C, M any](t testing.TB, g File, name string, parse func([]byte) (C, error), random func(C, uint64) (M, error)) M {
	t.Helper()
	js, seed := g.Model(t, name)
	cfg, err := parse(js)
	if err != nil {
		t.Fatal(err)
	}
	m, err := random(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// EncDec is an encoder-decoder model under test, E its encoder's output:
// each model package fills one from its Model's methods and config.
type EncDec[E Encoded] struct {
	// Forward is the teacher-forced pass: logits [len(tgt), Vocab].
	Forward func(src, tgt []int) ([]float32, error)
	// Encode runs the encoder over a batch of sources.
	Encode func(src [][]int) (E, error)
	// EncodeCapturing is Encode keeping the self-attention probabilities.
	EncodeCapturing func(src [][]int) (E, error)
	// NewDecoderFor opens a decoder on every row of enc.
	NewDecoderFor func(enc E, opt DecoderOptions) (Decoder, error)
	// NewDecoder opens a decoder whose rows have no source yet.
	NewDecoder func(opt DecoderOptions) Decoder
	// NewDecoderOn opens a one-row decoder whose source, set with
	// SetSource, is row of enc.
	NewDecoderOn func(enc E, row int, opt DecoderOptions) (Decoder, error)
	// LayerLogits puts the logits a decoder layer's output h would give
	// (the logit lens) in dst.
	LayerLogits func(dst, h []float32)
	// EmbedSource and EmbedTarget are the token embeddings of ids, the
	// inputs of ForwardPass, the differentiable pass.
	EmbedSource, EmbedTarget func(ids []int) ([]float32, error)
	ForwardPass              func(src, tgt []float32) (Pass, error)

	Start       int // decoder_start_token_id
	SourceVocab int // the encoder's vocabulary
	Vocab       int // the decoder's vocabulary: a row of logits
	Width       int // d_model: a row of hidden states
	Heads       int // the decoder's attention heads
	Layers      int // the decoder's layers

	EncoderHeads, EncoderLayers int
}

// decoder encodes src and opens a decoder on it, failing t on an error.
func (m EncDec[E]) decoder(t testing.TB, src [][]int, opt DecoderOptions) Decoder {
	t.Helper()
	enc, err := m.Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Greedy decodes n tokens after the start token with a Decoder, EOS
// ignored, as the reference scripts do.
func Greedy[E Encoded](t testing.TB, m EncDec[E], src []int, n int) []int {
	t.Helper()
	d := m.decoder(t, [][]int{src}, DecoderOptions{MaxLen: n})
	tok := m.Start
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

// CheckModel runs every comparison the golden file holds for name (NAME.src,
// .tgt, .logits: the first logitCols columns, .argmax, .cross_last: the
// last decoder layer's cross-attention [heads, T, S], .greedy, .margins):
// the teacher-forced pass, KV-cached decoding one token at a time against
// it, the cross-attention captured and greedy decoding, within tol.
func CheckModel[E Encoded](t *testing.T, g File, name string, m EncDec[E], logitCols int, tol float64) {
	t.Helper()
	V := m.Vocab
	src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")

	// Teacher-forced pass.
	got, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	tf := MaxAbsDiff(Cols(got, V, min(logitCols, V)), g.Get(t, name+".logits"))
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
	d := m.decoder(t, [][]int{src}, DecoderOptions{MaxLen: len(tgt), CaptureCross: true})
	worst := 0.0
	for i, tok := range tgt {
		if err := d.Forward([][]int{{tok}}); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, MaxAbsDiff(d.Logits(0), got[i*V:(i+1)*V]))
	}
	if worst > tol {
		t.Errorf("cached decoding vs teacher-forced: max |diff| %g > %g", worst, tol)
	}
	nh, T, S := m.Heads, len(tgt), len(src)
	var gotCross []float32
	for h := range nh {
		for p := range T {
			gotCross = append(gotCross, d.CrossAttention(0, m.Layers-1, h, p)...)
		}
	}
	if len(gotCross) != nh*T*S {
		t.Fatalf("cross-attention: %d values, want %d", len(gotCross), nh*T*S)
	}
	cr := MaxAbsDiff(gotCross, g.Get(t, name+".cross_last"))
	if cr > tol {
		t.Errorf("cross-attention probabilities: max |diff| %g > %g", cr, tol)
	}
	t.Logf("max |diff|: teacher-forced logits %.2g, cached vs teacher-forced %.2g, cross-attention %.2g", tf, worst, cr)

	// Greedy decoding.
	wantIDs := g.IDs(t, name+".greedy")
	CheckGreedy(t, Greedy(t, m, src, len(wantIDs)), wantIDs, g.Get(t, name+".margins"))
}

// CheckPadded compares a batch of two rows, each of its own length, with
// the reference's right-padded batch (NAME.src and .tgt, then
// .padded.src1 and .padded.tgt1; every position's logits in
// .padded.logits), within tol.
func CheckPadded[E Encoded](t *testing.T, g File, name string, m EncDec[E], tol float64) {
	t.Helper()
	src0, tgt0 := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
	src1, tgt1 := g.IDs(t, name+".padded.src1"), g.IDs(t, name+".padded.tgt1")
	d := m.decoder(t, [][]int{src0, src1}, DecoderOptions{AllLogits: true, MaxLen: len(tgt0)})
	if err := d.Forward([][]int{tgt0, tgt1}); err != nil {
		t.Fatal(err)
	}
	got := append(append([]float32{}, d.AllLogits(0)...), d.AllLogits(1)...)
	if dd := MaxAbsDiff(got, g.Get(t, name+".padded.logits")); dd > tol {
		t.Errorf("padded batch: max |diff| %g > %g", dd, tol)
	}
}

// CheckReorder checks beam reordering (sources given by rows, cycles
// through the spare row) against decoders fed the same histories, within
// tol.
func CheckReorder[E Encoded](t *testing.T, m EncDec[E], tol float64) {
	srcs := [][]int{{3, 4, 5, 6}, {7, 8, 9}, {10, 11, 12, 13, 14}}
	enc, err := m.Encode(srcs)
	if err != nil {
		t.Fatal(err)
	}
	start := m.Start
	hist := [][]int{{start, 1, 2}, {start, 3}, {start, 5, 6, 7}}
	for _, tc := range []struct {
		name string
		from []int
	}{
		{"fan-out", []int{2, 0, 0}},
		{"cycle", []int{1, 2, 0}},
		{"swap", []int{1, 0, 2}},
		{"identity", []int{0, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := m.NewDecoderFor(enc, DecoderOptions{CaptureCross: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Forward(hist); err != nil {
				t.Fatal(err)
			}
			d.Reorder(tc.from, -1)
			next := [][]int{{20}, {21}, {22}}
			if err := d.Forward(next); err != nil {
				t.Fatal(err)
			}
			for b, f := range tc.from {
				// Row b now continues row f's history, with f's source.
				ref, err := m.NewDecoderOn(enc, f, DecoderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := ref.Forward([][]int{append(append([]int{}, hist[f]...), next[b]...)}); err != nil {
					t.Fatal(err)
				}
				if dd := MaxAbsDiff(d.Logits(b), ref.Logits(0)); dd > tol {
					t.Errorf("row %d (from %d): logits differ by %g", b, f, dd)
				}
				if dd := MaxAbsDiff(d.Hidden(b), ref.Hidden(0)); dd > tol || len(d.Hidden(b)) != m.Width {
					t.Errorf("row %d (from %d): hidden states differ by %g", b, f, dd)
				}
				if d.Len(b) != len(hist[f])+1 || d.SourceLen(b) != len(srcs[f]) {
					t.Errorf("row %d: Len %d SourceLen %d, want %d %d", b, d.Len(b), d.SourceLen(b), len(hist[f])+1, len(srcs[f]))
				}
				if got := d.CrossAttention(b, 1, 2, 0); len(got) != len(srcs[f]) {
					t.Errorf("row %d: cross-attention over %d source tokens, want %d", b, len(got), len(srcs[f]))
				}
			}
		})
	}
}

// CheckDecodeAllocs checks that a decoding step of a batch of two, and
// Reorder, allocate nothing, with and without cross-attention captured.
// The token ids stay below 50.
func CheckDecodeAllocs[E Encoded](t *testing.T, m EncDec[E]) {
	t.Helper()
	enc, err := m.Encode([][]int{{3, 4, 5, 6, 7}, {8, 9}})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []DecoderOptions{{}, {CaptureCross: true}} {
		d, err := m.NewDecoderFor(enc, opt)
		if err != nil {
			t.Fatal(err)
		}
		toks := [][]int{{1}, {2}}
		step := func() {
			if err := d.Forward(toks); err != nil {
				t.Fatal(err)
			}
			toks[0][0] = (toks[0][0] + 7) % 50
		}
		step()
		step()
		if a := testing.AllocsPerRun(20, step); a != 0 {
			t.Errorf("options %+v: %v allocations per decoding step, want 0", opt, a)
		}
		beams := []int{1, 0}
		if a := testing.AllocsPerRun(5, func() { d.Reorder(beams, -1) }); a != 0 {
			t.Errorf("Reorder: %v allocations, want 0", a)
		}
	}
}

// CheckConcurrentDecoders runs decoders of one model on several goroutines
// (a model is read-only; run with -race) and checks that they decode the
// same greedy ids.
func CheckConcurrentDecoders[E Encoded](t *testing.T, m EncDec[E]) {
	t.Helper()
	src := []int{3, 4, 5, 6, 7, 8}
	want := Greedy(t, m, src, 12)
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				errs <- err.Error()
				return
			}
			d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: 12})
			if err != nil {
				errs <- err.Error()
				return
			}
			tok := m.Start
			for i := range 12 {
				if err := d.Forward([][]int{{tok}}); err != nil {
					errs <- err.Error()
					return
				}
				best, l := 0, d.Logits(0)
				for j, v := range l {
					if v > l[best] {
						best = j
					}
				}
				if best != want[i] {
					errs <- "greedy ids differ between goroutines"
					return
				}
				tok = best
			}
			errs <- ""
		}()
	}
	for range 4 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

// CheckLayerLogits checks the logit lens on src and tgt: with
// CaptureHidden, the last layer's LayerHidden through LayerLogits gives
// the teacher-forced logits at every position (fed in two Forward calls);
// CopySeq copies the captured states, and without the option there are
// none.
func CheckLayerLogits[E Encoded](t *testing.T, m EncDec[E], src, tgt []int) {
	t.Helper()
	want, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := m.Encode([][]int{src})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{Batch: 2, MaxLen: len(tgt), CaptureHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range [][]int{tgt[:2], tgt[2:]} {
		if err := d.Forward([][]int{part}); err != nil {
			t.Fatal(err)
		}
	}
	d.CopySeq(1, 0)
	V := m.Vocab
	got := make([]float32, V)
	worst := 0.0
	for p := range tgt {
		m.LayerLogits(got, d.LayerHidden(0, m.Layers-1, p))
		for j, v := range got {
			worst = max(worst, math.Abs(float64(v-want[p*V+j])))
		}
		if !slices.Equal(d.LayerHidden(1, 0, p), d.LayerHidden(0, 0, p)) {
			t.Errorf("CopySeq did not copy layer 0 at %d", p)
		}
		if slices.Equal(d.LayerHidden(0, 0, p), d.LayerHidden(0, 1, p)) {
			t.Errorf("layers 0 and 1 have the same output at %d", p)
		}
	}
	if worst > 1e-4 {
		t.Errorf("last layer's lens logits differ from the model's by %g", worst)
	}
	if d.LayerHidden(0, 0, len(tgt)) != nil || d.LayerHidden(0, m.Layers, 0) != nil {
		t.Errorf("LayerHidden past the cached positions or layers is not nil")
	}
	plain, err := m.NewDecoderFor(enc, DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain.Forward([][]int{tgt[:1]})
	if plain.LayerHidden(0, 0, 0) != nil {
		t.Errorf("LayerHidden without CaptureHidden")
	}
}

// benchSource is a 64-token source of ids in [3, 3+n).
func benchSource(n int) []int {
	src := make([]int, 64)
	for i := range src {
		src[i] = (i*7919)%n + 3
	}
	return src
}

// BenchDecode measures one greedy decoding step after a 64-token source
// of ids below srcVocab+3, up to 64 target tokens (the decoder is reset
// every 64 steps).
func BenchDecode[E Encoded](b *testing.B, m EncDec[E], srcVocab int) {
	enc, err := m.Encode([][]int{benchSource(srcVocab)})
	if err != nil {
		b.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: 64})
	if err != nil {
		b.Fatal(err)
	}
	step := [][]int{{m.Start}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d.Len(0) == 64 {
			d.Reset()
			step[0][0] = m.Start
		}
		if err := d.Forward(step); err != nil {
			b.Fatal(err)
		}
		step[0][0] = kernels.Argmax(d.Logits(0))
	}
}

// BenchEncode measures encoding one 64-token source of ids below
// srcVocab+3 and setting up a Decoder for it (cross-attention keys and
// values).
func BenchEncode[E Encoded](b *testing.B, m EncDec[E], srcVocab int) {
	src := benchSource(srcVocab)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc, err := m.Encode([][]int{src})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: 64}); err != nil {
			b.Fatal(err)
		}
	}
}

// CheckSelfAttention checks the captured self-attention of golden model
// name (NAME.src, .tgt; .enc_self [L_enc, heads, S, S], .dec_self [L_dec,
// heads, T, T] with zeros above the diagonal, the reference's
// output_attentions): the encoder's with EncodeCapturing, the decoder's
// with CaptureSelf whether the target goes through in one pass, in passes
// of a few rows or one token at a time, within tol; CopySeq carries the
// probabilities.
func CheckSelfAttention[E Encoded](t *testing.T, g File, name string, m EncDec[E], tol float64) {
	src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
	S, T := len(src), len(tgt)
	enc, err := m.EncodeCapturing([][]int{src})
	if err != nil {
		t.Fatal(err)
	}
	var got []float32
	for l := range m.EncoderLayers {
		for h := range m.EncoderHeads {
			got = append(got, enc.Attention(0, l, h)...)
		}
	}
	want := g.Get(t, name+".enc_self")
	if len(got) != len(want) || len(got) != m.EncoderLayers*m.EncoderHeads*S*S {
		t.Fatalf("encoder self-attention: %d values, want %d", len(got), len(want))
	}
	if d := MaxAbsDiff(got, want); d > tol {
		t.Errorf("encoder self-attention: max |diff| %g > %g", d, tol)
	}
	if plain, _ := m.Encode([][]int{src}); plain.Attention(0, 0, 0) != nil {
		t.Error("Encode without CaptureAttention kept attention")
	}
	// The reference's [L, nh, T, T] with zeros above the diagonal.
	want = g.Get(t, name+".dec_self")
	for _, step := range []int{T, 3, 1} {
		d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: T, MaxRows: max(step, 1), CaptureSelf: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < T; i += step {
			if err := d.Forward([][]int{tgt[i:min(i+step, T)]}); err != nil {
				t.Fatal(err)
			}
		}
		got = got[:0]
		for l := range m.Layers {
			for h := range m.Heads {
				for p := range T {
					row := d.SelfAttention(0, l, h, p)
					if len(row) != p+1 {
						t.Fatalf("step %d: layer %d head %d position %d: %d probabilities, want %d", step, l, h, p, len(row), p+1)
					}
					got = append(got, row...)
					got = append(got, make([]float32, T-p-1)...)
				}
			}
		}
		if dd := MaxAbsDiff(got, want); dd > tol {
			t.Errorf("decoder self-attention, %d tokens a pass: max |diff| %g > %g", step, dd, tol)
		}
		if d.SelfAttention(0, 0, 0, T) != nil || d.SelfAttention(0, m.Layers, 0, 0) != nil {
			t.Error("SelfAttention out of range is not nil")
		}
		// CopySeq carries the probabilities.
		if step == T {
			d2, err := m.NewDecoderFor(enc, DecoderOptions{Batch: 2, MaxLen: T, CaptureSelf: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := d2.Forward([][]int{tgt}); err != nil {
				t.Fatal(err)
			}
			d2.CopySeq(1, 0)
			if a, b := d2.SelfAttention(0, 0, 0, T-1), d2.SelfAttention(1, 0, 0, T-1); !slices.Equal(a, b) {
				t.Errorf("CopySeq: row 1 %v, row 0 %v", b, a)
			}
		}
	}
}

// passInputs returns the token embeddings of src and tgt, the inputs of
// ForwardPass.
func (m EncDec[E]) passInputs(t *testing.T, src, tgt []int) (xs, xt []float32) {
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

// CheckForwardPass checks the differentiable pass's logits on golden
// model name's source and target against the inference pass's (Forward:
// encoder, cached decoder), within tol.
func CheckForwardPass[E Encoded](t *testing.T, g File, name string, m EncDec[E], tol float64) {
	src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
	want, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	xs, xt := m.passInputs(t, src, tgt)
	p, err := m.ForwardPass(xs, xt)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, len(tgt))
	for i := range rows {
		rows[i] = i
	}
	if d := MaxAbsDiff(p.Logits(rows), want); d > tol {
		t.Errorf("logits differ from Forward's by %g > %g", d, tol)
	}
}

// CheckBackward checks a few input gradients of one logit, on the first
// tokens of golden model name's source and target, against central
// differences of the float32 pass; a second seed on the same logit must
// give the same gradient, and target rows after the seed none.
func CheckBackward[E Encoded](t *testing.T, g File, name string, m EncDec[E]) {
	src, tgt := g.IDs(t, name+".src")[:6], g.IDs(t, name+".tgt")[:5]
	xs, xt := m.passInputs(t, src, tgt)
	C, Vt := m.Width, m.Vocab
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
}

// CheckForwardErrors checks input validation: an id outside the source
// vocabulary, an empty source, no sources, a target past MaxLen, a
// negative id, more rows than the decoder has, a row without a source, a
// source longer than MaxSource and an empty target are errors, and a
// decoder's rows are left as they were.
func CheckForwardErrors[E Encoded](t *testing.T, m EncDec[E]) {
	V := m.SourceVocab
	if _, err := m.Encode([][]int{{1, V}}); err == nil || !strings.Contains(err.Error(), strconv.Itoa(V)) {
		t.Errorf("out-of-vocabulary source id: %v", err)
	}
	if _, err := m.Encode([][]int{{}}); err == nil {
		t.Error("empty source: no error")
	}
	if _, err := m.Encode(nil); err == nil {
		t.Error("no sources: no error")
	}
	enc, err := m.Encode([][]int{{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Forward([][]int{{1, 2, 3, 4}}); err == nil || d.Len(0) != 0 {
		t.Errorf("target past MaxLen: err %v, Len %d", err, d.Len(0))
	}
	if err := d.Forward([][]int{{-1}}); err == nil || d.Len(0) != 0 {
		t.Errorf("negative id: err %v, Len %d", err, d.Len(0))
	}
	if err := d.Forward([][]int{{1}, {2}}); err == nil {
		t.Error("two rows in a decoder of one: no error")
	}
	d2 := m.NewDecoder(DecoderOptions{})
	if err := d2.Forward([][]int{{1}}); err == nil || !strings.Contains(err.Error(), "SetSource") {
		t.Errorf("row without source: %v", err)
	}
	if _, err := m.NewDecoderOn(enc, 0, DecoderOptions{MaxSource: 1}); err == nil {
		t.Error("source longer than MaxSource: no error")
	}
	if _, err := m.Forward([]int{1}, nil); err == nil {
		t.Error("empty target: no error")
	}
}

// CheckTruncate checks that decoding after Truncate equals decoding the
// shorter target from scratch (within tol), that Truncate drops the
// logits and hidden state and Reset the target but not the source, and
// that Hidden is the lm_head input: head(Hidden) gives the logits.
func CheckTruncate[E Encoded](t *testing.T, m EncDec[E], tol float64, head func(h []float32) []float32) {
	t.Helper()
	enc, err := m.Encode([][]int{{3, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Forward([][]int{{m.Start, 1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	d.Truncate(0, 2)
	if d.Logits(0) != nil || d.Hidden(0) != nil {
		t.Error("logits kept after Truncate")
	}
	if err := d.Forward([][]int{{7}}); err != nil {
		t.Fatal(err)
	}
	ref, err := m.NewDecoderFor(enc, DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Forward([][]int{{m.Start, 1, 7}}); err != nil {
		t.Fatal(err)
	}
	if dd := MaxAbsDiff(d.Logits(0), ref.Logits(0)); dd > tol || d.Len(0) != 3 {
		t.Errorf("after Truncate: logits differ by %g, Len %d", dd, d.Len(0))
	}
	if dd := MaxAbsDiff(head(d.Hidden(0)), d.Logits(0)); dd > tol {
		t.Errorf("logits recomputed from Hidden differ by %g", dd)
	}
	d.Reset()
	if d.Len(0) != 0 || d.Logits(0) != nil || d.SourceLen(0) != 3 {
		t.Errorf("after Reset: Len %d SourceLen %d", d.Len(0), d.SourceLen(0))
	}
}
