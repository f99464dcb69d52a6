package seq2seq

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/t5"
)

// stepCross decodes input one token at a time with a fresh decoder
// capturing cross- and self-attention and returns [layer][head][pos]
// probabilities of each: an independent path (the cached decoding loop)
// to compare Explain's teacher-forced pass against.
func stepCross(t *testing.T, p *Pipeline, src, input []int) (crossP, selfP [][][][]float32) {
	t.Helper()
	var fwd func([]int) error
	var cross, self func(l, h, i int) []float32
	var L, H int
	if p.T5 != nil {
		enc, err := p.T5.Encode([][]int{src})
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.T5.NewDecoderFor(enc, t5.DecoderOptions{MaxLen: len(input) + 3, CaptureCross: true, CaptureSelf: true})
		if err != nil {
			t.Fatal(err)
		}
		fwd = func(x []int) error { return d.Forward([][]int{x}) }
		cross = func(l, h, i int) []float32 { return d.CrossAttention(0, l, h, i) }
		self = func(l, h, i int) []float32 { return d.SelfAttention(0, l, h, i) }
		L, H = p.T5.Config.DecoderLayers, p.T5.Config.Heads
	} else {
		enc, err := p.Model.Encode([][]int{src})
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.Model.NewDecoderFor(enc, bart.DecoderOptions{MaxLen: len(input) + 3, CaptureCross: true, CaptureSelf: true})
		if err != nil {
			t.Fatal(err)
		}
		fwd = func(x []int) error { return d.Forward([][]int{x}) }
		cross = func(l, h, i int) []float32 { return d.CrossAttention(0, l, h, i) }
		self = func(l, h, i int) []float32 { return d.SelfAttention(0, l, h, i) }
		L, H = p.Model.Config.DecoderLayers, p.Model.Config.DecoderHeads
	}
	for _, id := range input {
		if err := fwd([]int{id}); err != nil {
			t.Fatal(err)
		}
	}
	crossP, selfP = make([][][][]float32, L), make([][][][]float32, L)
	for l := range L {
		crossP[l], selfP[l] = make([][][]float32, H), make([][][]float32, H)
		for h := range H {
			for i := range input {
				crossP[l][h] = append(crossP[l][h], slices.Clone(cross(l, h, i)))
				selfP[l][h] = append(selfP[l][h], slices.Clone(self(l, h, i)))
			}
		}
	}
	return crossP, selfP
}

// checkSelf checks that every row of a is a distribution of the expected
// length (the whole source, or positions up to the row's own) and, when
// ref is given, equals it within 1e-4.
func checkSelf(t *testing.T, what string, a *explain.Attention, layers, heads, n int, causal bool, ref [][][][]float32) {
	t.Helper()
	if a == nil || a.Layers != layers || a.Heads != heads || len(a.Probs) != layers {
		t.Fatalf("%s: %+v, want %d layers × %d heads", what, a, layers, heads)
	}
	worst := 0.0
	for l := range layers {
		for h := range heads {
			if len(a.Probs[l][h]) != n {
				t.Fatalf("%s: layer %d head %d: %d rows, want %d", what, l, h, len(a.Probs[l][h]), n)
			}
			for i, row := range a.Probs[l][h] {
				want := n
				if causal {
					want = i + 1
				}
				sum := 0.0
				for j, v := range row {
					sum += float64(v)
					if ref != nil {
						worst = max(worst, math.Abs(float64(v)-float64(ref[l][h][i][j])))
					}
				}
				if len(row) != want || math.Abs(sum-1) > 1e-4 {
					t.Errorf("%s: layer %d head %d row %d: %d probabilities summing to %v, want %d summing to 1", what, l, h, i, len(row), sum, want)
				}
			}
		}
	}
	if worst > 1e-4 {
		t.Errorf("%s: differs from the cached decoding loop's by %g", what, worst)
	}
}

// TestExplain: the target is what RunIDs generates (or the continuation),
// every cross-attention row is a distribution equal to the one the cached
// decoding loop captures at the step that produced the token, and the
// alignment lists the largest mean attentions in order.
func TestExplain(t *testing.T) {
	src := []int{5, 6, 7, 8, 9, 10, 2}
	for _, c := range []struct {
		model        string
		continuation []int
		top          int
	}{
		{"tiny-marian", nil, 0},
		{"tiny-bart", nil, 2},
		{"tiny-t5", nil, 100},
		{"tiny-marian", []int{11, 12, 13, 0}, 1},
		{"tiny-t5", []int{3, 4}, 0},
	} {
		p := loadTiny(t, c.model)
		s := greedy(10)
		s.RepetitionPenalty = new(2.0)
		e, err := p.Explain(context.Background(), src, s, ExplainOptions{Continuation: c.continuation, TopSources: c.top})
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		want := c.continuation
		var logprobs []float32
		if want == nil {
			o, err := p.RunIDs(context.Background(), src, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, logprobs = o.Sequences[0].IDs, o.Sequences[0].Logprobs
		}
		if !slices.Equal(e.TargetIDs, want) || e.Generated != (c.continuation == nil) {
			t.Errorf("%s: target %v (generated %v), want %v", c.model, e.TargetIDs, e.Generated, want)
		}
		if len(e.Target) != len(e.TargetIDs) || len(e.Source) != len(src) || !slices.Equal(e.SourceIDs, src) {
			t.Errorf("%s: %d target strings for %d ids, %d source strings for %d", c.model, len(e.Target), len(e.TargetIDs), len(e.Source), len(src))
		}
		input := append([]int{e.DecoderStart}, e.TargetIDs[:len(e.TargetIDs)-1]...)
		ref, refSelf := stepCross(t, p, src, input)
		encL, encH := 0, 0
		if p.T5 != nil {
			encL, encH = p.T5.Config.EncoderLayers, p.T5.Config.Heads
		} else {
			encL, encH = p.Model.Config.EncoderLayers, p.Model.Config.EncoderHeads
		}
		checkSelf(t, c.model+" encoder self-attention", e.EncoderAttention, encL, encH, len(src), false, nil)
		checkSelf(t, c.model+" decoder self-attention", e.DecoderAttention, e.Layers, e.Heads, len(input), true, refSelf)
		if len(e.DecoderInputs) != len(input) {
			t.Errorf("%s: %d decoder inputs, want %d", c.model, len(e.DecoderInputs), len(input))
		}
		if len(e.CrossAttention) != len(ref) || len(e.CrossAttention[0]) != len(ref[0]) || e.Layers != len(ref) || e.Heads != len(ref[0]) {
			t.Fatalf("%s: %d×%d (layers %d heads %d), want %d×%d", c.model, len(e.CrossAttention), len(e.CrossAttention[0]), e.Layers, e.Heads, len(ref), len(ref[0]))
		}
		worst := 0.0
		for l := range ref {
			for h := range ref[l] {
				for i := range ref[l][h] {
					row := e.CrossAttention[l][h][i]
					sum := 0.0
					for j, a := range row {
						sum += float64(a)
						worst = max(worst, math.Abs(float64(a-ref[l][h][i][j])))
					}
					if len(row) != len(src) || math.Abs(sum-1) > 1e-4 {
						t.Errorf("%s: layer %d head %d token %d: %d probabilities summing to %v", c.model, l, h, i, len(row), sum)
					}
				}
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: teacher-forced cross-attention differs from the cached loop's by %g", c.model, worst)
		}
		top := c.top
		if top == 0 {
			top = DefaultTopSources
		}
		top = min(top, len(src))
		for i, al := range e.Alignment {
			mean := e.MeanAttention(i)
			sorted := slices.Clone(mean)
			slices.Sort(sorted)
			slices.Reverse(sorted)
			if len(al) != top {
				t.Fatalf("%s: token %d: %d aligned sources, want %d", c.model, i, len(al), top)
			}
			for k, a := range al {
				if a.Attention != sorted[k] || a.Attention != mean[a.Position] || a.Token != e.Source[a.Position] {
					t.Errorf("%s: token %d rank %d: %+v, want attention %v", c.model, i, k, a, sorted[k])
				}
			}
		}
		// The last layer's lens is the model: its target probabilities are
		// the generation's (raw-logit) log-probabilities, and its top token
		// the teacher-forced argmax.
		var logits []float32
		if p.T5 != nil {
			logits, err = p.T5.Forward(src, input)
		} else {
			logits, err = p.Model.Forward(src, input)
		}
		if err != nil {
			t.Fatal(err)
		}
		V := len(logits) / len(input)
		last := e.Layers - 1
		for i := range e.TargetIDs {
			if logprobs != nil {
				if got, want := e.LayerTargetProb[i][last], math.Exp(float64(logprobs[i])); math.Abs(got-want) > 1e-4 {
					t.Errorf("%s: token %d: last layer's target probability %v, generation's %v", c.model, i, got, want)
				}
			}
			row := logits[i*V : (i+1)*V]
			if top := e.LayerPredictions[i][last][0].ID; row[top] != slices.Max(row) {
				t.Errorf("%s: token %d: last layer's top token %d is not the argmax", c.model, i, top)
			}
			for l, preds := range e.LayerPredictions[i] {
				if len(preds) != DefaultLayerTopK || !slices.IsSortedFunc(preds, func(a, b explain.Prediction) int { return cmp.Compare(b.Prob, a.Prob) }) {
					t.Errorf("%s: token %d layer %d: %d predictions, not sorted: %v", c.model, i, l, len(preds), preds)
				}
			}
		}
		if e.Layers > 1 && slices.Equal(e.LayerTargetProb[0], slices.Repeat([]float64{e.LayerTargetProb[0][0]}, e.Layers)) {
			t.Errorf("%s: every layer gives the first token the same probability %v", c.model, e.LayerTargetProb[0])
		}
		var b strings.Builder
		if err := e.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if lines, want := strings.Count(b.String(), "\n"), 3*len(e.TargetIDs)+len(src)+5; lines != want {
			t.Errorf("%s: text has %d lines, want %d:\n%s", c.model, lines, want, b.String())
		}
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		// Without self-attention: the same cross-attention, no self views
		// in the JSON or the text.
		e2, err := p.Explain(context.Background(), src, s, ExplainOptions{Continuation: c.continuation, TopSources: c.top, NoSelfAttention: true})
		if err != nil {
			t.Fatal(err)
		}
		js2, _ := json.Marshal(e2)
		b.Reset()
		e2.WriteText(&b)
		if e2.EncoderAttention != nil || e2.DecoderAttention != nil || strings.Contains(string(js2), "encoder_attention") ||
			!strings.Contains(string(js), `"encoder_attention":{"layers"`) || !strings.Contains(string(js), `"decoder_attention":{"layers"`) ||
			strings.Count(b.String(), "\n") != 2*len(e.TargetIDs)+3 || !slices.Equal(e2.CrossAttention[0][0][0], e.CrossAttention[0][0][0]) {
			t.Errorf("%s: NoSelfAttention: encoder %v decoder %v, text:\n%s", c.model, e2.EncoderAttention != nil, e2.DecoderAttention != nil, b.String())
		}
	}
}

// TestExplainText: with a tokenizer the tokens are display strings and
// the text is the decoded target.
func TestExplainText(t *testing.T) {
	p, err := Load(context.Background(), marianDir(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src, err := p.EncodeText("hello world")
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Explain(context.Background(), src, greedy(8), ExplainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Source, ""); got != "␣hello␣world</s>" {
		t.Errorf("source tokens %q", e.Source)
	}
	if e.Text != p.Decoder().Decode(e.TargetIDs) {
		t.Errorf("text %q", e.Text)
	}
}

// TestExplainErrors: bad inputs are errors naming what is wrong.
func TestExplainErrors(t *testing.T) {
	p := loadTiny(t, "tiny-marian")
	for _, c := range []struct {
		src  []int
		opt  ExplainOptions
		want string
	}{
		{nil, ExplainOptions{}, "empty source"},
		{[]int{5, 2}, ExplainOptions{Continuation: []int{}}, "target is empty"},
		{[]int{5, 2}, ExplainOptions{Continuation: []int{5, 1 << 20}}, "continuation token id 1048576"},
		{[]int{5, 2}, ExplainOptions{Continuation: []int{-1}}, "continuation token id -1"},
		{[]int{5, 2}, ExplainOptions{TopSources: -1}, "top_sources"},
		{[]int{5, 2}, ExplainOptions{LayerTopK: -1}, "layer_top_k"},
		{[]int{5, 1 << 20}, ExplainOptions{}, "source token id"},
	} {
		_, err := p.Explain(context.Background(), c.src, greedy(6), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %+v: error %v, want one containing %q", c.src, c.opt, err, c.want)
		}
	}
}
