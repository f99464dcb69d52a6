package seq2seq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/t5"
)

// DefaultLayerTopK is how many tokens Explanation.LayerPredictions keeps
// per target token and layer when ExplainOptions.LayerTopK is 0.
const DefaultLayerTopK = 5

// DefaultTopSources is how many source tokens Explanation.Alignment keeps
// per target token when ExplainOptions.TopSources is 0.
const DefaultTopSources = 3

// ExplainOptions control Explain. The zero value generates the target with
// the settings given and keeps DefaultTopSources source tokens per target
// token in the alignment.
type ExplainOptions struct {
	// Continuation, when not nil, is the target to explain (token ids
	// after the decoder's start token, in the target vocabulary) instead
	// of a generated one: a reference translation, say.
	Continuation []int
	// TopSources is how many source tokens Alignment lists per target
	// token (0: DefaultTopSources; at most the source's length).
	TopSources int
	// LayerTopK is how many tokens LayerPredictions lists per target
	// token and layer (0: DefaultLayerTopK).
	LayerTopK int
	// NoSelfAttention leaves EncoderAttention and DecoderAttention out
	// (as explain.Options.NoAttention leaves GPT-2's attention out).
	NoSelfAttention bool
	// Methods are the input-saliency methods to compute (explain.Methods
	// names: gradient, grad_x_input, integrated_gradients); none: no
	// saliency. Target and IGSteps are as in SaliencyOptions.
	Methods []string
	Target  explain.Target
	IGSteps int
}

// Explanation is the cross-attention of one encoder-decoder generation:
// for each target token, the decoder's attention over the source tokens
// at every layer and head during the step that produced it (one
// teacher-forced pass over the start token and the target, with the
// probabilities captured).
type Explanation struct {
	Model string `json:"model"`
	// SourceIDs are the encoder's input ids, Source their display strings
	// (explain.DisplayToken: ␣ for a space; ids as text without a
	// tokenizer).
	SourceIDs []int    `json:"source_ids"`
	Source    []string `json:"source"`
	// DecoderStart is the decoder's first input
	// (decoder_start_token_id).
	DecoderStart int `json:"decoder_start"`
	// TargetIDs are the explained target ids (generated, or the
	// continuation; a final EOS included), Target their display strings
	// and Text the target decoded without special tokens ("" without a
	// tokenizer).
	TargetIDs []int    `json:"target_ids"`
	Target    []string `json:"target"`
	Text      string   `json:"text"`
	// DecoderInputs are the display strings of the decoder's inputs: the
	// start token, then every target token but the last (the key axis of
	// DecoderAttention).
	DecoderInputs []string `json:"decoder_inputs"`
	// Generated is false when the target was given
	// (ExplainOptions.Continuation).
	Generated bool `json:"generated"`
	Layers    int  `json:"layers"` // decoder layers
	Heads     int  `json:"heads"`  // cross-attention heads per layer
	// CrossAttention[l][h][i][j] is the probability that head h of
	// decoder layer l gives source token j in the step that produced
	// target token i (its decoder input is the token before: the start
	// token for i = 0). Each [l][h][i] sums to 1.
	CrossAttention [][][][]float32 `json:"cross_attention"`
	// EncoderAttention.Probs[l][h][i][j] is the probability that head h
	// of encoder layer l gives source token j when encoding source token i
	// (bidirectional: each row covers the whole source); DecoderAttention's
	// [l][h][i][j] that head h of decoder layer l gives decoder input j
	// (the start token, then the target tokens before i) in the step
	// that produced target token i (causal: j ≤ i). Both are captured
	// from the same pass as CrossAttention (the encoder's, and the
	// teacher-forced decoder's) and written with 4 decimals, as GPT-2's
	// explain.Result.Attention; nil with ExplainOptions.NoSelfAttention.
	EncoderAttention *explain.Attention `json:"encoder_attention,omitempty"`
	DecoderAttention *explain.Attention `json:"decoder_attention,omitempty"`
	// Alignment lists, for each target token, the source tokens with the
	// most cross-attention averaged over every layer and head, most first.
	Alignment [][]AlignedSource `json:"alignment"`
	// LayerPredictions[i][l] are the likeliest tokens at target position
	// i had the decoder ended after layer l (the logit lens: the layer's
	// output through the model's final norm and head, softmaxed), most
	// likely first; the last layer's are the model's own predictions.
	LayerPredictions [][][]explain.Prediction `json:"layer_predictions"`
	// LayerTargetProb[i][l] is the probability of target token i in the
	// same distributions.
	LayerTargetProb [][]float64 `json:"layer_target_prob"`
	// Saliency attributes each target token to the source tokens and the
	// decoder inputs before it (with ExplainOptions.Methods).
	Saliency *Saliency `json:"saliency,omitempty"`
}

// AlignedSource is a source token and the cross-attention a target token
// gives it.
type AlignedSource struct {
	Position  int     `json:"position"` // index in Explanation.Source
	Token     string  `json:"token"`
	Attention float64 `json:"attention"`
}

// crossDecoder is what Explain needs of bart's and t5's Decoders.
type crossDecoder interface {
	Forward(tokens [][]int) error
	CrossAttention(row, layer, head, pos int) []float32
	SelfAttention(row, layer, head, pos int) []float32
	LayerHidden(row, layer, pos int) []float32
}

// layerPredictions fills LayerPredictions and LayerTargetProb: each
// layer's captured output through lens (the final norm and head), k
// tokens per position.
func (e *Explanation) layerPredictions(d crossDecoder, lens func(dst, h []float32), vocab, k int, display func([]int) []string) {
	n := len(e.TargetIDs)
	e.LayerPredictions = make([][][]explain.Prediction, n)
	e.LayerTargetProb = make([][]float64, n)
	logits := make([]float32, vocab)
	var idx []int
	for i := range n {
		e.LayerPredictions[i] = make([][]explain.Prediction, e.Layers)
		e.LayerTargetProb[i] = make([]float64, e.Layers)
		for l := range e.Layers {
			lens(logits, d.LayerHidden(0, l, i))
			kernels.Softmax(logits)
			idx = kernels.TopK(logits, k, idx)
			names := display(idx)
			for r, id := range idx {
				e.LayerPredictions[i][l] = append(e.LayerPredictions[i][l], explain.Prediction{ID: id, Token: names[r], Prob: float64(logits[id])})
			}
			e.LayerTargetProb[i][l] = float64(logits[e.TargetIDs[i]])
		}
	}
}

// Explain explains how the model maps src (source ids) to a target: it
// generates the target with settings s as RunIDs does (the best sequence
// of a beam search), or takes opt.Continuation, then runs the decoder
// once over the start token and the target with every cross-attention
// probability and every layer's output captured (for the layer
// predictions), and, unless opt.NoSelfAttention, every encoder and decoder
// self-attention probability of those passes. With opt.Methods it also
// computes the input saliency of every target token (Pipeline.Saliency).
func (p *Pipeline) Explain(ctx context.Context, src []int, s generate.Settings, opt ExplainOptions) (*Explanation, error) {
	if err := p.CheckSource(src); err != nil {
		return nil, err
	}
	if opt.TopSources < 0 {
		return nil, &generate.OptionError{Field: "top_sources", Value: fmt.Sprint(opt.TopSources), Allowed: "0 (the default) or more"}
	}
	if opt.LayerTopK < 0 {
		return nil, &generate.OptionError{Field: "layer_top_k", Value: fmt.Sprint(opt.LayerTopK), Allowed: "0 (the default) or more"}
	}
	if len(opt.Methods) > 0 {
		if err := (explain.AttributionOptions{Methods: opt.Methods, Target: opt.Target, IGSteps: opt.IGSteps}).Check(); err != nil {
			return nil, err
		}
	}
	_, _, start, err := p.Resolve(s)
	if err != nil {
		return nil, err
	}
	e := &Explanation{Model: p.Name, SourceIDs: slices.Clone(src), DecoderStart: start[0]}
	if opt.Continuation != nil {
		e.TargetIDs = slices.Clone(opt.Continuation)
		for _, id := range e.TargetIDs {
			if id < 0 || id >= p.spec.vocab {
				return nil, fmt.Errorf("seq2seq: continuation token id %d out of range [0, %d)", id, p.spec.vocab)
			}
		}
	} else {
		o, err := p.RunIDs(ctx, src, s, nil)
		if err != nil {
			return nil, err
		}
		e.TargetIDs, e.Generated = slices.Clone(o.Sequences[0].IDs), true
	}
	n := len(e.TargetIDs)
	if n == 0 {
		return nil, errors.New("seq2seq: nothing to explain: the target is empty")
	}
	if n > p.spec.maxLen {
		return nil, fmt.Errorf("seq2seq: the target has %d tokens, more than the decoder's %d positions", n, p.spec.maxLen)
	}
	input := append([]int{e.DecoderStart}, e.TargetIDs[:n-1]...)
	var d crossDecoder
	var lens func(dst, h []float32)
	self := !opt.NoSelfAttention
	if p.T5 != nil {
		enc, err := p.T5.EncodeWith([][]int{src}, t5.EncodeOptions{CaptureAttention: self})
		if err != nil {
			return nil, err
		}
		c := p.T5.Config
		e.Layers, e.Heads = c.DecoderLayers, c.Heads
		if self {
			e.EncoderAttention = encoderAttention(enc.Attention, c.EncoderLayers, c.Heads, len(src))
		}
		d, err = p.T5.NewDecoderFor(enc, t5.DecoderOptions{MaxLen: n, CaptureCross: true, CaptureHidden: true, CaptureSelf: self})
		lens = p.T5.LayerLogits
		if err != nil {
			return nil, err
		}
	} else {
		enc, err := p.Model.EncodeWith([][]int{src}, bart.EncodeOptions{CaptureAttention: self})
		if err != nil {
			return nil, err
		}
		c := p.Model.Config
		e.Layers, e.Heads = c.DecoderLayers, c.DecoderHeads
		if self {
			e.EncoderAttention = encoderAttention(enc.Attention, c.EncoderLayers, c.EncoderHeads, len(src))
		}
		d, err = p.Model.NewDecoderFor(enc, bart.DecoderOptions{MaxLen: n, CaptureCross: true, CaptureHidden: true, CaptureSelf: self})
		lens = p.Model.LayerLogits
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.Forward([][]int{input}); err != nil {
		return nil, err
	}
	e.CrossAttention = make([][][][]float32, e.Layers)
	for l := range e.Layers {
		e.CrossAttention[l] = make([][][]float32, e.Heads)
		for h := range e.Heads {
			e.CrossAttention[l][h] = make([][]float32, n)
			for i := range n {
				a := d.CrossAttention(0, l, h, i)
				if len(a) != len(src) {
					return nil, fmt.Errorf("seq2seq: layer %d head %d position %d: %d cross-attention probabilities for %d source tokens", l, h, i, len(a), len(src))
				}
				e.CrossAttention[l][h][i] = slices.Clone(a)
			}
		}
	}
	if self {
		e.DecoderAttention = &explain.Attention{Layers: e.Layers, Heads: e.Heads, Probs: make([][][][]explain.Prob4, e.Layers)}
		for l := range e.Layers {
			e.DecoderAttention.Probs[l] = make([][][]explain.Prob4, e.Heads)
			for h := range e.Heads {
				rows := make([][]explain.Prob4, n)
				for i := range n {
					rows[i] = prob4(d.SelfAttention(0, l, h, i))
				}
				e.DecoderAttention.Probs[l][h] = rows
			}
		}
	}
	k := opt.LayerTopK
	if k == 0 {
		k = DefaultLayerTopK
	}
	e.layerPredictions(d, lens, p.spec.vocab, min(k, p.spec.vocab), p.displayTokens)
	e.Source = p.displayTokens(src)
	e.Target = p.displayTokens(e.TargetIDs)
	e.DecoderInputs = p.displayTokens(input)
	if dec := p.Decoder(); dec != nil {
		e.Text = dec.Decode(e.TargetIDs)
	}
	top := opt.TopSources
	if top == 0 {
		top = DefaultTopSources
	}
	e.Alignment = e.align(min(top, len(src)))
	if len(opt.Methods) > 0 {
		if e.Saliency, err = p.Saliency(ctx, src, e.DecoderStart, e.TargetIDs, SaliencyOptions{Methods: opt.Methods, Target: opt.Target, IGSteps: opt.IGSteps}); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// encoderAttention returns the captured encoder self-attention (at(row,
// layer, head): [n, n]) of a source of n tokens as explain.Attention rows.
func encoderAttention(at func(row, layer, head int) []float32, layers, heads, n int) *explain.Attention {
	a := &explain.Attention{Layers: layers, Heads: heads, Probs: make([][][][]explain.Prob4, layers)}
	for l := range layers {
		a.Probs[l] = make([][][]explain.Prob4, heads)
		for h := range heads {
			p := at(0, l, h)
			rows := make([][]explain.Prob4, n)
			for i := range n {
				rows[i] = prob4(p[i*n : (i+1)*n])
			}
			a.Probs[l][h] = rows
		}
	}
	return a
}

// prob4 converts probabilities to explain.Prob4.
func prob4(p []float32) []explain.Prob4 {
	out := make([]explain.Prob4, len(p))
	for i, v := range p {
		out[i] = explain.Prob4(v)
	}
	return out
}

// displayTokens returns the display strings of ids: the tokenizer's text
// through explain.DisplayToken, the vocabulary string for a token without
// text (special tokens), or the id when there is no tokenizer.
func (p *Pipeline) displayTokens(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		switch {
		case p.Tokenizer == nil:
			out[i] = fmt.Sprint(id)
		case p.Tokenizer.TokenText(id) != "":
			out[i] = explain.DisplayToken([]byte(p.Tokenizer.TokenText(id)))
		case p.Tokenizer.Token(id) != "":
			out[i] = p.Tokenizer.Token(id)
		default:
			out[i] = fmt.Sprintf("[%d]", id)
		}
	}
	return out
}

// MeanAttention returns the cross-attention of target token i over the
// source averaged over every layer and head.
func (e *Explanation) MeanAttention(i int) []float64 {
	mean := make([]float64, len(e.SourceIDs))
	k := 0
	for _, layer := range e.CrossAttention {
		for _, head := range layer {
			for j, a := range head[i] {
				mean[j] += float64(a)
			}
			k++
		}
	}
	for j := range mean {
		mean[j] /= float64(max(k, 1))
	}
	return mean
}

// align returns each target token's top source tokens by MeanAttention
// (ties: the earlier position first).
func (e *Explanation) align(top int) [][]AlignedSource {
	out := make([][]AlignedSource, len(e.TargetIDs))
	for i := range out {
		mean := e.MeanAttention(i)
		order := make([]int, len(mean))
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return mean[order[a]] > mean[order[b]] })
		for _, j := range order[:top] {
			out[i] = append(out[i], AlignedSource{Position: j, Token: e.Source[j], Attention: mean[j]})
		}
	}
	return out
}

// WriteText writes the alignment as loupe translate --explain prints it:
// the source, then one line per target token with its top source tokens
// and their attention (mean over layers and heads), then one line per
// target token with each layer's top prediction and the target's
// probability.
func (e *Explanation) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("source (%d tokens):", len(e.Source))
	for j, t := range e.Source {
		ew.printf(" %d:%s", j, t)
	}
	ew.printf("\n")
	if e.Text != "" {
		ew.printf("target: %s\n", e.Text)
	}
	ew.printf("cross-attention, mean over %d layers × %d heads; for each target token its top source tokens:\n", e.Layers, e.Heads)
	width := 0
	for _, t := range e.Target {
		width = max(width, len([]rune(t)))
	}
	for i, t := range e.Target {
		ew.printf("%3d %-*s ←", i, width, t)
		for _, a := range e.Alignment[i] {
			ew.printf("  %s (%d) %.1f%%", a.Token, a.Position, 100*a.Attention)
		}
		ew.printf("\n")
	}
	if a := e.EncoderAttention; a != nil {
		ew.printf("encoder self-attention, layer %d (the last), mean over %d heads; for each source token the tokens it attends to most:\n", a.Layers-1, a.Heads)
		writeSelf(ew, a, e.Source, e.Source, len(e.Alignment[0]))
	}
	if a := e.DecoderAttention; a != nil {
		ew.printf("decoder self-attention, layer %d (the last), mean over %d heads; for each target token the decoder inputs (start, earlier targets) it attends to most:\n", a.Layers-1, a.Heads)
		writeSelf(ew, a, e.Target, e.DecoderInputs, len(e.Alignment[0]))
	}
	if e.LayerPredictions != nil {
		ew.printf("layer predictions (logit lens): each decoder layer's top token, and p(target):\n")
		for i, t := range e.Target {
			ew.printf("%3d %-*s", i, width, t)
			for l, preds := range e.LayerPredictions[i] {
				ew.printf("  L%d %s %.1f%% (%.1f%%)", l, preds[0].Token, 100*preds[0].Prob, 100*e.LayerTargetProb[i][l])
			}
			ew.printf("\n")
		}
	}
	e.writeSaliency(ew, max(len(e.Alignment[0]), 1))
	return ew.err
}

// writeSelf writes, for each query token, the top keys of a's last layer
// averaged over heads.
func writeSelf(ew *errWriter, a *explain.Attention, queries, keys []string, top int) {
	if a.Layers == 0 || a.Heads == 0 {
		return
	}
	width := 0
	for _, t := range queries {
		width = max(width, len([]rune(t)))
	}
	last := a.Probs[a.Layers-1]
	for i, t := range queries {
		mean := make([]float64, len(last[0][i]))
		for h := range last {
			for j, v := range last[h][i] {
				mean[j] += float64(v) / float64(len(last))
			}
		}
		order := make([]int, len(mean))
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(x, y int) bool { return mean[order[x]] > mean[order[y]] })
		ew.printf("%3d %-*s ←", i, width, t)
		for _, j := range order[:min(top, len(order))] {
			ew.printf("  %s (%d) %.1f%%", keys[j], j, 100*mean[j])
		}
		ew.printf("\n")
	}
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (w *errWriter) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}
