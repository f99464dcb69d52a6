package web

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/seq2seq"
)

// openInBrowser writes res as an explorable, opens it in headless
// chromium and returns the tab, failing the test on any request that is
// not the file itself or any uncaught exception at cleanup.
func openInBrowser(t *testing.T, res *explain.Result) context.Context {
	t.Helper()
	return openPage(t, func(w io.Writer) error { return WriteHTML(w, "test", res) })
}

// openPage opens the page write writes in headless chromium, with
// openInBrowser's checks.
func openPage(t *testing.T, write func(io.Writer) error) context.Context {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("LOUPE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("LOUPE_REQUIRE_CHROMIUM=1 but %s is missing", chromium)
		}
		t.Skip("no chromium")
	}
	path := filepath.Join(t.TempDir(), "x.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 1600), chromedp.UserDataDir(t.TempDir()))
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	var mu sync.Mutex
	var requests, exceptions []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			exceptions = append(exceptions, msg)
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range requests {
			if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") { // inline images are not requests
				t.Errorf("the page requested %s", u)
			}
		}
		if len(exceptions) > 0 {
			t.Errorf("the page threw: %v", exceptions)
		}
		cancelT()
		cancel()
		cancelAlloc()
	})
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// retrievalResult is an explanation of a 3-token prompt and 2 output
// tokens with a kNN-LM and an in-context RALM section, as explain.Explain
// shapes them (2 passage tokens).
func retrievalResult() *explain.Result {
	toks := []string{"In", "␣the", "↵", "␣God", "␣created", "␣the", "␣heaven"}
	res := &explain.Result{Tokens: toks, IDs: []int{1, 2, 3, 4, 5, 6, 7}, PromptLength: 5, Target: "probability",
		TargetValues: []float64{0.5, 0.4}, LogitLens: "ln_f",
		Attributions: map[string][][]float64{"grad_x_input": {{0.3, 0.1, 0.1, 0.2, 0.3}, {0.05, 0.4, 0.05, 0.2, 0.1, 0.2}}},
		Rankings:     [][]int{{3, 1}}, LayerPredictions: [][][]explain.Prediction{{{{ID: 6, Token: "␣the", Prob: 0.5}}}, {{{ID: 7, Token: "␣heaven", Prob: 0.4}}}}}
	nb := func(pos int, ctx []string, next string, w float64, match bool) explain.KNNNeighbor {
		return explain.KNNNeighbor{Pos: pos, Context: ctx, Next: next, Weight: w, Distance: 1 / w, Match: match}
	}
	res.Retrieval = &explain.Retrieval{
		KNN: &explain.KNNExplanation{KNNSettings: explain.KNNSettings{Datastore: "kjv.knn", Lambda: 0.25, K: 1024, Temperature: 1}, ContextTokens: 16, Source: "decoding",
			Tokens: []explain.KNNToken{
				{Position: 5, Token: "␣the", PLM: 0.4, PKNN: 0.8, PMix: 0.5, Change: 0.1, RankLM: 2, RankMix: 1, Retrieved: 1024, Agreeing: 600,
					KNNPredictions: []explain.Prediction{{Token: "␣the", Prob: 0.8}},
					Neighbors:      []explain.KNNNeighbor{nb(10, []string{"␣God", "␣created"}, "␣the", 0.5, true), nb(99, []string{"␣and", "␣made"}, "␣a", 0.2, false), nb(7, []string{"␣created"}, "␣the", 0.1, true)}},
				{Position: 6, Token: "␣heaven", PLM: 0.5, PKNN: 0.2, PMix: 0.425, Change: -0.075, RankLM: 1, RankMix: 1, Retrieved: 1024, Agreeing: 10,
					Neighbors: []explain.KNNNeighbor{nb(11, []string{"␣the"}, "␣earth", 0.6, false), nb(12, []string{"␣the"}, "␣heaven", 0.2, true)}},
			}},
		RALM: &explain.RALMExplanation{Query: "In the", QueryTokens: 32, PassageTokens: 2, PromptStart: 3, Method: "grad_x_input",
			Passages: []explain.Passage{{Text: "In the", Source: "gen.txt#0", Score: 0.9}},
			Tokens: []explain.RALMToken{
				{Share: map[string]float64{"grad_x_input": 0.4}, Top: []explain.TokenScore{{Position: 0, Token: "In", Score: 0.3}, {Position: 1, Token: "␣the", Score: 0.1}}},
				{Share: map[string]float64{"grad_x_input": 0.45}, Top: []explain.TokenScore{{Position: 1, Token: "␣the", Score: 0.4}, {Position: 0, Token: "In", Score: 0.05}}},
			}},
	}
	return res
}

// TestRetrievalPanelsInBrowser: the kNN-LM panel lists the selected
// token's neighbours with the stored next token highlighted and its
// probability change, and the RALM panel shades the passage by the
// selected token's attribution.
func TestRetrievalPanelsInBrowser(t *testing.T) {
	ctx := openInBrowser(t, retrievalResult())
	got := eval[[]float64](t, ctx, `[
		document.querySelectorAll('#knn-tokens .tok.out').length,
		document.querySelectorAll('#knn-neighbours li').length,
		document.querySelectorAll('#knn-neighbours .next.match').length,
		document.querySelectorAll('#knn-neighbours .wbar .bar').length,
		parseFloat(document.querySelector('#knn-neighbours .wbar .bar').style.width)]`)
	if got[0] != 2 || got[1] != 3 || got[2] != 2 || got[3] != 3 || got[4] != 100 {
		t.Errorf("kNN panel for token 0: %v output tokens (want 2), %v neighbours (3), %v matching (2), %v weight bars (3), first bar %v%% (100)", got[0], got[1], got[2], got[3], got[4])
	}
	head := eval[string](t, ctx, `document.getElementById('knn-change').textContent`)
	if !strings.Contains(head, "p_LM 40.0% → p_mix 50.0%") || !strings.Contains(head, "rank 2 → 1") {
		t.Errorf("kNN change line %q", head)
	}
	ctxText := eval[string](t, ctx, `document.querySelector('#knn-neighbours li .ctx').textContent`)
	if ctxText != "␣God␣created␣the" {
		t.Errorf("first neighbour's context %q", ctxText)
	}
	// Another output token shows its own neighbours.
	got = eval[[]float64](t, ctx, `(document.querySelector('#knn-tokens .tok.out[data-i="1"]').click(), [
		document.querySelectorAll('#knn-neighbours li').length,
		document.querySelectorAll('#knn-neighbours .next.match').length])`)
	if got[0] != 2 || got[1] != 1 {
		t.Errorf("kNN panel for token 1: %v neighbours (want 2), %v matching (1)", got[0], got[1])
	}
	if head := eval[string](t, ctx, `document.getElementById('knn-change').textContent`); !strings.Contains(head, "−7.5 points") {
		t.Errorf("kNN change line for token 1 %q", head)
	}
	// RALM: the passage tokens are marked and shaded by the selection.
	shades := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#ralm-tokens .tok.passage')).map(s => s.style.backgroundColor)`)
	if len(shades) != 2 || !strings.HasPrefix(shades[0], "rgb") || shades[0] == shades[1] {
		t.Errorf("passage shading for output 0: %q", shades)
	}
	got2 := eval[[]string](t, ctx, `(document.querySelector('#ralm-tokens .tok.out[data-j="6"]').click(), [
		document.getElementById('ralm-share').textContent,
		...Array.from(document.querySelectorAll('#ralm-tokens .tok.passage')).map(s => s.style.backgroundColor)])`)
	if !strings.Contains(got2[0], "45.0%") || got2[1] == shades[0] {
		t.Errorf("after selecting output 1: share %q, passage shading %q (was %q)", got2[0], got2[1:], shades)
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#saliency-tokens .tok.passage').length`); n != 2 {
		t.Errorf("the saliency view marks %v passage tokens, want 2", n)
	}
}

// s2sResult is a cross-attention explanation of 3 target tokens over 4
// source tokens, 2 layers of 2 heads, as seq2seq.Explain shapes it.
func s2sResult() *seq2seq.Explanation {
	row := func(a ...float32) []float32 { return a }
	e := &seq2seq.Explanation{Model: "tiny", SourceIDs: []int{1, 2, 3, 0}, Source: []string{"␣the", "␣house", "<b>", "</s>"},
		TargetIDs: []int{4, 5, 0}, Target: []string{"␣das", "␣Haus", "</s>"}, Text: "das Haus", Generated: true, Layers: 2, Heads: 2}
	// Layer 1 head 0 aligns diagonally, head 1 looks at </s>; layer 0 is uniform.
	uni := [][]float32{row(.25, .25, .25, .25), row(.25, .25, .25, .25), row(.25, .25, .25, .25)}
	pred := func(tok string, p float64) [][]explain.Prediction {
		return [][]explain.Prediction{{{ID: 9, Token: "␣x", Prob: 0.2}}, {{ID: 4, Token: tok, Prob: p}, {ID: 9, Token: "␣x", Prob: 0.1}}}
	}
	e.LayerPredictions = [][][]explain.Prediction{pred("␣das", 0.9), pred("␣Haus", 0.5), pred("</s>", 0.7)}
	e.LayerTargetProb = [][]float64{{0.01, 0.9}, {0.02, 0.5}, {0.05, 0.7}}
	e.CrossAttention = [][][][]float32{{uni, uni}, {
		{row(.7, .1, .1, .1), row(.1, .8, .05, .05), row(0, 0, .1, .9)},
		{row(.1, .1, .1, .7), row(.1, .1, .1, .7), row(.1, .1, .1, .7)},
	}}
	return e
}

// openS2S writes e's explorable to a file and opens it in the browser.
func openS2S(t *testing.T, e *seq2seq.Explanation) context.Context {
	t.Helper()
	return openPage(t, func(w io.Writer) error { return WriteSeq2SeqHTML(w, "tiny <marian>", e) })
}

// TestSeq2SeqInBrowser: the heatmap has a row per target token and a
// column per source token, shaded by the last layer's mean over heads;
// the selectors switch to one head or to the mean over layers, and a
// clicked row lists its top source tokens.
func TestSeq2SeqInBrowser(t *testing.T) {
	ctx := openS2S(t, s2sResult())
	cells := `Array.from(document.querySelectorAll('#s2s-heatmap tr')).slice(1).map(tr => Array.from(tr.querySelectorAll('td')).map(td => Math.round(1000*parseFloat(td.dataset.v))))`
	got := eval[[][]float64](t, ctx, cells)
	want := [][]float64{{400, 100, 100, 400}, {100, 450, 75, 375}, {50, 50, 100, 800}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("default heatmap (last layer, mean over heads) ‰: %v, want %v", got, want)
	}
	// The largest cell is the accent colour, the smallest white.
	bg := eval[[]string](t, ctx, `[document.querySelector('#s2s-heatmap tr[data-i="2"] td:last-child').style.backgroundColor,
		document.querySelector('#s2s-heatmap tr[data-i="2"] td').style.backgroundColor]`)
	if bg[0] != "rgb(91, 60, 196)" || bg[1] != "rgba(91, 60, 196, 0)" {
		t.Errorf("the largest and smallest cells are %q, want the accent colour and transparent", bg)
	}
	heads := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#s2s-heatmap tr:first-child th')).map(th => th.textContent)`)
	if fmt.Sprint(heads) != fmt.Sprint([]string{"", "␣the", "␣house", "<b>", "</s>"}) {
		t.Errorf("column heads %q", heads)
	}
	got = eval[[][]float64](t, ctx, `(document.getElementById('s2s-head').value = '0', document.getElementById('s2s-head').dispatchEvent(new Event('change')), `+cells+`)`)
	if got[1][1] != 800 || got[2][3] != 900 {
		t.Errorf("layer 1 head 0: %v", got)
	}
	got = eval[[][]float64](t, ctx, `(document.getElementById('s2s-layer').value = 'mean', document.getElementById('s2s-layer').dispatchEvent(new Event('change')), `+cells+`)`)
	if got[0][0] != 475 || got[0][1] != 175 {
		t.Errorf("mean over layers, head 0: %v", got[0])
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#s2s-layer option').length`); n != 3 {
		t.Errorf("%v layer options, want 3 (mean and 2 layers)", n)
	}
	// Clicking the second target token selects its row and lists its sources.
	det := eval[[]string](t, ctx, `(document.querySelector('#s2s-target .tok.out[data-i="1"]').click(),
		Array.from(document.querySelectorAll('#s2s-detail .tokname')).map(s => s.textContent))`)
	if len(det) != 4 || det[0] != "␣house" {
		t.Errorf("top sources of ␣Haus: %q, want ␣house first", det)
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#s2s-heatmap tr[data-i="1"] td.sel').length`); n != 4 {
		t.Errorf("%v selected cells in row 1, want 4", n)
	}
	lens := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#s2s-lens-table tr[data-i="1"] td')).map(td => td.textContent)`)
	if fmt.Sprint(lens) != fmt.Sprint([]string{"␣x 20.0%", "␣Haus 50.0%"}) {
		t.Errorf("layer predictions of ␣Haus: %q", lens)
	}
	if sub := eval[string](t, ctx, `document.getElementById('subtitle').textContent`); sub != "tiny <marian> — das Haus" {
		t.Errorf("subtitle %q", sub)
	}
}

// TestSeq2SeqSelfAttentionInBrowser: the view selector offers the
// encoder's and the decoder's self-attention when the explanation has
// them; the encoder view is source × source with its own layer count, the
// decoder view target × decoder inputs with the future positions blank,
// and each view's selected row lists its most attended tokens.
func TestSeq2SeqSelfAttentionInBrowser(t *testing.T) {
	e := s2sResult()
	p := func(v ...explain.Prob4) []explain.Prob4 { return v }
	// One encoder layer of 2 heads: head 0 looks at the next token, head 1
	// at the token itself.
	e.EncoderAttention = &explain.Attention{Layers: 1, Heads: 2, Probs: [][][][]explain.Prob4{{
		{p(0, 1, 0, 0), p(0, 0, 1, 0), p(0, 0, 0, 1), p(1, 0, 0, 0)},
		{p(.6, .2, .1, .1), p(.1, .6, .2, .1), p(.1, .1, .6, .2), p(.2, .1, .1, .6)},
	}}}
	// Two decoder layers of 2 heads over the inputs start, ␣das, ␣Haus.
	causal := [][]explain.Prob4{p(1), p(.3, .7), p(.2, .2, .6)}
	e.DecoderAttention = &explain.Attention{Layers: 2, Heads: 2, Probs: [][][][]explain.Prob4{{causal, causal}, {causal, {p(1), p(.9, .1), p(.5, .4, .1)}}}}
	e.DecoderInputs = []string{"<pad>", "␣das", "␣Haus"}
	ctx := openS2S(t, e)
	cells := `Array.from(document.querySelectorAll('#s2s-heatmap tr')).slice(1).map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.classList.contains('future') ? -1 : Math.round(1000*parseFloat(td.dataset.v))))`
	heads := `Array.from(document.querySelectorAll('#s2s-heatmap tr:first-child th')).map(th => th.textContent)`
	setView := func(v string) string {
		return `(document.getElementById('s2s-view').value = '` + v + `', document.getElementById('s2s-view').dispatchEvent(new Event('change')), `
	}
	opts := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#s2s-view option')).map(o => o.value)`)
	if fmt.Sprint(opts) != "[cross encoder decoder]" {
		t.Fatalf("view options %q", opts)
	}
	got := eval[[][]float64](t, ctx, setView("encoder")+cells+`)`)
	want := [][]float64{{300, 600, 50, 50}, {50, 300, 600, 50}, {50, 50, 300, 600}, {600, 50, 50, 300}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("encoder view (layer 0, mean over heads) ‰: %v, want %v", got, want)
	}
	if h := eval[[]string](t, ctx, heads); fmt.Sprint(h) != fmt.Sprint([]string{"", "␣the", "␣house", "<b>", "</s>"}) {
		t.Errorf("encoder view column heads %q", h)
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#s2s-layer option').length`); n != 2 {
		t.Errorf("encoder view: %v layer options, want 2 (mean and 1 layer)", n)
	}
	// Clicking source token 2 (the encoder view's rows are the source).
	det := eval[[]string](t, ctx, `(document.querySelector('#s2s-target .tok.out[data-i="2"]').click(),
		Array.from(document.querySelectorAll('#s2s-detail .tokname')).map(s => s.textContent))`)
	if len(det) != 4 || det[0] != "</s>" || det[1] != "<b>" {
		t.Errorf("encoder view, <b> attends to %q, want </s> then <b>", det)
	}
	if title := eval[string](t, ctx, `document.getElementById('s2s-title').textContent`); title != "Encoder self-attention" {
		t.Errorf("title %q", title)
	}
	got = eval[[][]float64](t, ctx, setView("decoder")+cells+`)`)
	want = [][]float64{{1000, -1, -1}, {600, 400, -1}, {350, 300, 350}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decoder view (layer 1, mean over heads) ‰: %v, want %v", got, want)
	}
	if h := eval[[]string](t, ctx, heads); fmt.Sprint(h) != fmt.Sprint([]string{"", "<pad>", "␣das", "␣Haus"}) {
		t.Errorf("decoder view column heads %q", h)
	}
	got = eval[[][]float64](t, ctx, `(document.getElementById('s2s-head').value = '1', document.getElementById('s2s-head').dispatchEvent(new Event('change')), `+cells+`)`)
	if got[2][0] != 500 || got[1][1] != 100 {
		t.Errorf("decoder view, layer 1 head 1: %v", got)
	}
	// The selection (source token 2) carries to target row 2, whose
	// detail lists the 3 inputs it sees.
	det = eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#s2s-detail .tokname')).map(s => s.textContent)`)
	if fmt.Sprint(det) != fmt.Sprint([]string{"<pad>", "␣das", "␣Haus"}) {
		t.Errorf("decoder view, ␣Haus row attends to %q", det)
	}
	// Back to cross-attention: the original heatmap.
	got = eval[[][]float64](t, ctx, setView("cross")+cells+`)`)
	if fmt.Sprint(got[0]) != "[400 100 100 400]" {
		t.Errorf("cross view again: %v", got)
	}
}

// TestSeq2SeqCrossOnlyInBrowser: without self-attention the selector
// offers only the cross-attention.
func TestSeq2SeqCrossOnlyInBrowser(t *testing.T) {
	ctx := openS2S(t, s2sResult())
	if opts := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#s2s-view option')).map(o => o.value)`); fmt.Sprint(opts) != "[cross]" {
		t.Errorf("view options %q", opts)
	}
}
