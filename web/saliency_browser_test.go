package web

import (
	"fmt"
	"testing"

	"github.com/loupe-ml/loupe/seq2seq"
)

// TestSeq2SeqSaliencyInBrowser: the saliency view shades the source and
// the prefix before the selected target token (later prefix tokens
// dimmed), switches token on hover and click and method on the selector,
// and stays hidden without saliency.
func TestSeq2SeqSaliencyInBrowser(t *testing.T) {
	e := s2sResult()
	if hidden := eval[bool](t, openS2S(t, e), `document.getElementById('s2s-saliency').hidden`); !hidden {
		t.Error("the saliency view shows without saliency")
	}
	e.Saliency = &seq2seq.Saliency{
		Methods: []string{"grad_x_input", "gradient"}, Target: "prob",
		PrefixTokens: []string{"</s>", "␣das", "␣Haus"},
		Source: map[string][][]float64{
			"grad_x_input": {{.5, .2, .1, .1}, {.1, .6, .05, .05}, {.1, .1, .1, .3}},
			"gradient":     {{.25, .25, .25, .15}, {.2, .2, .2, .2}, {.1, .1, .1, .1}},
		},
		Prefix: map[string][][]float64{
			"grad_x_input": {{.1}, {.1, .1}, {.1, .1, .2}},
			"gradient":     {{.1}, {.1, .1}, {.2, .2, .2}},
		},
		Value: []float64{.9, .5, .7},
	}
	ctx := openS2S(t, e)
	shares := `[Array.from(document.querySelectorAll('#s2s-sal-tokens .sal-src')).map(s => Math.round(1000*parseFloat(s.dataset.v))),
		Array.from(document.querySelectorAll('#s2s-sal-tokens .sal-pre')).map(s => s.classList.contains('future') ? -1 : Math.round(1000*parseFloat(s.dataset.v)))]`
	got := eval[[][]float64](t, ctx, shares)
	if fmt.Sprint(got) != fmt.Sprint([][]float64{{500, 200, 100, 100}, {100, -1, -1}}) {
		t.Errorf("token 0's source and prefix shares ‰ (-1: after the token): %v", got)
	}
	bg := eval[[]string](t, ctx, `[document.querySelector('#s2s-sal-tokens .sal-src[data-j="0"]').style.backgroundColor,
		document.querySelector('#s2s-sal-tokens .sal-src[data-j="2"]').style.backgroundColor]`)
	if bg[0] != "rgb(91, 60, 196)" || bg[1] != "rgba(91, 60, 196, 0.2)" {
		t.Errorf("shading of the largest and a fifth of it: %q", bg)
	}
	got = eval[[][]float64](t, ctx, `(document.querySelector('#s2s-sal-tokens .tok.out[data-i="1"]').dispatchEvent(new MouseEvent('mouseenter')), `+shares+`)`)
	if fmt.Sprint(got) != fmt.Sprint([][]float64{{100, 600, 50, 50}, {100, 100, -1}}) {
		t.Errorf("after hovering token 1: %v", got)
	}
	got = eval[[][]float64](t, ctx, `(document.querySelector('#s2s-sal-tokens .tok.out[data-i="2"]').click(),
		document.getElementById('s2s-sal-method').value = 'gradient', document.getElementById('s2s-sal-method').dispatchEvent(new Event('change')), `+shares+`)`)
	if fmt.Sprint(got) != fmt.Sprint([][]float64{{100, 100, 100, 100}, {200, 200, 200}}) {
		t.Errorf("token 2, gradient: %v", got)
	}
	if s := eval[string](t, ctx, `document.getElementById('s2s-sal-summary').textContent`); s != "“</s>” (p = 70.0%): source 40.0%, target prefix 60.0%" {
		t.Errorf("summary %q", s)
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#s2s-sal-method option').length`); n != 2 {
		t.Errorf("%v method options, want 2", n)
	}
}
