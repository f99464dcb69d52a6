package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/loupe-ml/loupe/internal/s2stest"
	"github.com/loupe-ml/loupe/seq2seq"
	"github.com/loupe-ml/loupe/tokenizer"
)

// testSeq2Seq loads a tiny random T5 with a SentencePiece tokenizer.
func testSeq2Seq(t testing.TB) *seq2seq.Pipeline {
	t.Helper()
	p, err := seq2seq.Load(context.Background(), s2stest.T5(t, "..", nil), seq2seq.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestSeq2SeqAPI: on an encoder-decoder, /api/generate answers what loupe
// generate (seq2seq.Pipeline.RunIDs) gives for the same source and
// settings, in the GPT-2 answer's fields, and /api/explain answers the
// seq2seq explanation with cross- and self-attention.
func TestSeq2SeqAPI(t *testing.T) {
	p := testSeq2Seq(t)
	s, err := NewSeq2Seq(p, Options{MaxNewTokens: 6, MaxPromptTokens: 40})
	if err != nil {
		t.Fatal(err)
	}
	const src = "translate English to German: hello"
	for _, body := range []string{
		`{"prompt":"` + src + `","greedy":true,"max_new_tokens":5}`,
		`{"prompt":"` + src + `","num_beams":3,"max_new_tokens":4,"no_repeat_ngram_size":2}`,
		`{"prompt":"` + src + `","greedy":false,"seed":7,"top_k":20}`,
	} {
		code, v := post(t, s, "/api/generate", "application/json", body)
		if code != 200 {
			t.Fatalf("%s: %d %v", body, code, v)
		}
		var req GenerateRequest
		json.Unmarshal([]byte(body), &req)
		set, _ := req.settings()
		if set.MaxNewTokens == nil {
			set.MaxNewTokens = new(6) // the server's limit lowers transformers' max_length 20
		}
		set.Seed = new(uint64(v["seed"].(float64)))
		ids, _ := p.EncodeText(src)
		want, err := p.RunIDs(context.Background(), ids, set, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := toInts(v["ids"])
		if !slices.Equal(got, want.Sequences[0].IDs) || v["text"] != want.Sequences[0].Text || v["model"] != p.Name {
			t.Errorf("%s: ids %v text %q, want %v %q", body, got, v["text"], want.Sequences[0].IDs, want.Sequences[0].Text)
		}
		if pids := toInts(v["prompt_ids"]); !slices.Equal(pids, []int{0}) || v["finish"] == "" {
			t.Errorf("%s: prompt_ids %v (want the decoder start [0]), finish %v", body, pids, v["finish"])
		}
		if len(got) > 6 {
			t.Errorf("%s: %d tokens, more than the server's limit 6", body, len(got))
		}
	}
	code, v := post(t, s, "/api/explain", "", `{"prompt":"`+src+`","greedy":true,"max_new_tokens":4,"top_sources":2}`)
	if code != 200 {
		t.Fatalf("explain: %d %v", code, v)
	}
	for _, k := range []string{"source", "target", "cross_attention", "encoder_attention", "decoder_attention", "alignment", "layer_predictions", "decoder_inputs"} {
		if _, ok := v[k]; !ok {
			t.Errorf("explain response lacks %q", k)
		}
	}
	if al := v["alignment"].([]any); len(al) == 0 || len(al[0].([]any)) != 2 || !v["generated"].(bool) {
		t.Errorf("alignment %v", v["alignment"])
	}
	// A target given as text is the tokenizer's (with </s>), as ids as given.
	code, v = post(t, s, "/api/explain", "", `{"prompt":"`+src+`","continuation":"hello","no_attention":true}`)
	wantIDs, _ := p.EncodeTarget("hello")
	if code != 200 || !slices.Equal(toInts(v["target_ids"]), wantIDs) || v["generated"].(bool) || v["encoder_attention"] != nil {
		t.Errorf("continuation text: %d target %v (want %v), encoder_attention %v", code, v["target_ids"], wantIDs, v["encoder_attention"] != nil)
	}
	code, v = post(t, s, "/api/explain", "", `{"prompt":"`+src+`","continuation_ids":[5,6,1]}`)
	if code != 200 || !slices.Equal(toInts(v["target_ids"]), []int{5, 6, 1}) || v["saliency"] != nil {
		t.Errorf("continuation_ids: %d %v (saliency without methods: %v)", code, v["target_ids"], v["saliency"] != nil)
	}
	// Saliency, as loupe translate --explain --methods gradient,ig --target logit.
	code, v = post(t, s, "/api/explain", "", `{"prompt":"`+src+`","continuation_ids":[5,6,1],"methods":["gradient","ig"],"target":"logit","ig_steps":3}`)
	if sal, _ := v["saliency"].(map[string]any); code != 200 || sal == nil || sal["target"] != "logit" || sal["ig_steps"] != 3.0 ||
		len(sal["source"].(map[string]any)["integrated_gradients"].([]any)) != 3 {
		t.Errorf("saliency: %d %v", code, v["saliency"])
	}
	for _, c := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/generate", `{"prompt":" "}`, 400, "prompt is empty"},
		{"/api/generate", `{"prompt":"` + strings.Repeat("hello ", 30) + `"}`, 400, "the limit is 40"},
		{"/api/generate", `{"prompt":"a","max_new_tokens":7}`, 400, "max_new_tokens 7"},
		{"/api/generate", `{"prompt":"a","top_p":2,"greedy":false}`, 400, "top_p"},
		{"/api/explain", `{"prompt":"a","nmf_components":3}`, 400, "unknown field"},
		{"/api/explain", `{"prompt":"a","methods":["attention"]}`, 400, "methods"},
		{"/api/explain", `{"prompt":"a","methods":["ig"],"ig_steps":65}`, 400, "this server's limit"},
		{"/api/explain", `{"prompt":"a","continuation":"x","continuation_ids":[1]}`, 400, "not both"},
		{"/api/explain", `{"prompt":"a","continuation_ids":[1,1,1,1,1,1,1]}`, 400, "the limit is 6"},
		{"/api/explain", `{"prompt":"a","continuation_ids":[999999]}`, 422, "out of range"},
		{"/api/explain", `{"prompt":"a","top_sources":-1}`, 400, "top_sources"},
	} {
		code, v := post(t, s, c.path, "", c.body)
		if msg, _ := v["error"].(string); code != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.path, c.body, code, msg, c.status, c.want)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if page := rec.Body.String(); rec.Code != 200 || !strings.Contains(page, `data-mode="server"`) || !strings.Contains(page, "s2s-form") {
		t.Errorf("GET /: %d, not the encoder-decoder page", rec.Code)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if !strings.Contains(rec.Body.String(), `"ok":true`) {
		t.Errorf("healthz: %s", rec.Body.String())
	}
}

// TestSeq2SeqNoTokenizer: a model without a tokenizer cannot be served.
func TestSeq2SeqNoTokenizer(t *testing.T) {
	p, err := seq2seq.Load(context.Background(), "../model/t5/testdata/tiny-t5", seq2seq.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := NewSeq2Seq(p, Options{}); err == nil || !strings.Contains(err.Error(), "no tokenizer") {
		t.Errorf("error %v, want one saying it has no tokenizer", err)
	}
}

// TestBrowserSeq2SeqServedPage: the served encoder-decoder page posts the
// source box to /api/explain and shows the heatmaps of the answer and its
// saliency (grad×input, the form's default); an error hides them and says
// why.
func TestBrowserSeq2SeqServedPage(t *testing.T) {
	s, err := NewSeq2Seq(testSeq2Seq(t), Options{MaxNewTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, log := newBrowser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(`#s2s-form`),
		chromedp.SetValue(`#prompt`, "summarize: hello world"),
		chromedp.SetValue(`#decoding`, "greedy"),
		chromedp.SetValue(`#max-new-tokens`, "4"),
		chromedp.Click(`#go`),
		chromedp.WaitVisible(`body[data-rendered="1"]`),
	); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('#s2s-heatmap tr').length - 1,
		document.querySelectorAll('#s2s-view option').length, document.getElementById('s2s-cross').hidden ? 1 : 0,
		document.getElementById('s2s-saliency').hidden ? 1 : 0, document.querySelectorAll('#s2s-sal-tokens .tok.out').length,
		document.querySelectorAll('#s2s-sal-method option').length]`))
	if err != nil {
		t.Fatal(err)
	}
	if rows[0] < 1 || rows[0] > 4 || rows[1] != 3 || rows[2] != 0 {
		t.Errorf("served page: %d heatmap rows (want 1 to 4), %d views (want 3), hidden %d", rows[0], rows[1], rows[2])
	}
	if rows[3] != 0 || rows[4] != rows[0] || rows[5] != 1 {
		t.Errorf("served page saliency: hidden %d, %d target tokens (want %d), %d methods (want 1)", rows[3], rows[4], rows[0], rows[5])
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(`#max-new-tokens`, "50"), chromedp.Click(`#go`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById('status').className, document.getElementById('status').textContent, String(document.getElementById('s2s-cross').hidden),
			String(document.getElementById('s2s-saliency').hidden)]`))
		if err != nil {
			t.Fatal(err)
		}
		if st[0] == "error" {
			if !strings.Contains(st[1], "max_new_tokens 50") || st[2] != "true" || st[3] != "true" {
				t.Errorf("after an error: status %q, heatmap hidden %s, saliency hidden %s", st[1], st[2], st[3])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error shown for a bad request")
		}
	}
	log.noExceptions(t)
	if _, blocked := log.snapshot(); len(blocked) > 0 {
		t.Errorf("the served page tried to reach the network: %v", blocked)
	}
}

func toInts(v any) []int {
	a, _ := v.([]any)
	out := make([]int, len(a))
	for i, x := range a {
		out[i] = int(x.(float64))
	}
	return out
}

// TestGenerateBeams: a GPT-2 server takes num_beams too, and answers the
// best sequence of loupe generate's beam search.
func TestGenerateBeams(t *testing.T) {
	p := testPipeline(t)
	s := newServer(t, p, Options{MaxNewTokens: 6})
	code, v := post(t, s, "/api/generate", "", `{"prompt":"the hat","num_beams":3,"max_new_tokens":4,"greedy":true}`)
	if code != 200 {
		t.Fatalf("%d %v", code, v)
	}
	set, _ := SamplingRequest{NumBeams: new(3), MaxNewTokens: new(4), Greedy: new(true)}.settings()
	ids := p.Tokenizer.Encode("the hat")
	opt, b, err := p.Resolve(set, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	b.NumReturnSequences = 1
	want, err := p.Run(context.Background(), ids, opt, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := toInts(v["ids"]); !slices.Equal(got, want.Sequences[0].IDs) {
		t.Errorf("ids %v, want the best beam %v", got, want.Sequences[0].IDs)
	}
	if code, v := post(t, s, "/api/generate", "", `{"prompt":"the hat","num_beams":2,"stop":["x"]}`); code != 400 {
		t.Errorf("beams with stop: %d %v", code, v)
	}
}

// TestTranslateSummarizeAPI: /api/translate's from/to and /api/summarize
// apply config.json's tasks (prefix and settings) as loupe translate and
// loupe summarize do, per request: the server's pipeline is left as it
// is; src_lang/tgt_lang set an mBART's language codes.
func TestTranslateSummarizeAPI(t *testing.T) {
	tasks := map[string]any{
		"summarization":        map[string]any{"num_beams": 2, "max_length": 6, "prefix": "summarize: "},
		"translation_en_to_de": map[string]any{"num_beams": 3, "max_length": 5, "prefix": "translate English to German: "},
	}
	p, err := seq2seq.Load(context.Background(), s2stest.T5(t, "..", map[string]any{"task_specific_params": tasks}), seq2seq.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := NewSeq2Seq(p, Options{MaxNewTokens: 6})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, body, same string }{
		{"/api/translate", `{"prompt":"hello","from":"en","to":"de"}`, `{"prompt":"translate English to German: hello","num_beams":3,"max_new_tokens":4}`},
		{"/api/summarize", `{"prompt":"hello"}`, `{"prompt":"summarize: hello","num_beams":2,"max_new_tokens":5}`},
		{"/api/translate", `{"prompt":"hello","from":"en","to":"de","num_beams":1,"max_new_tokens":2}`, `{"prompt":"translate English to German: hello","num_beams":1,"max_new_tokens":2}`},
		{"/api/translate", `{"prompt":"hello"}`, `{"prompt":"hello"}`},
	} {
		code, got := post(t, s, c.path, "", c.body)
		code2, want := post(t, s, "/api/generate", "", c.same)
		if code != 200 || code2 != 200 || !slices.Equal(toInts(got["ids"]), toInts(want["ids"])) || len(toInts(got["ids"])) == 0 {
			t.Errorf("%s %s: %d %v, want %s's %d %v", c.path, c.body, code, got["ids"], c.same, code2, want["ids"])
		}
	}
	if p.Prefix != "" || p.Config.NumBeams != nil {
		t.Errorf("the server's pipeline changed: prefix %q, num_beams %v", p.Prefix, p.Config.NumBeams)
	}
	for _, c := range []struct{ body, want string }{
		{`{"prompt":"hello","from":"de","to":"en"}`, "no such task"},
		{`{"prompt":"hello","from":"en"}`, "give from and to together"},
		{`{"prompt":"hello","tgt_lang":"de_DE"}`, "need an mBART model"},
	} {
		code, v := post(t, s, "/api/translate", "", c.body)
		if msg, _ := v["error"].(string); code != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want 400 with %q", c.body, code, msg, c.want)
		}
	}
	mb, err := seq2seq.Load(context.Background(), s2stest.MBart(t, "..", false), seq2seq.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	ms, err := NewSeq2Seq(mb, Options{MaxNewTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	code, v := post(t, ms, "/api/translate", "", `{"prompt":"hello","src_lang":"ro_RO","tgt_lang":"de_DE","greedy":true}`)
	de, _ := mb.Tokenizer.(*tokenizer.SentencePiece).LanguageID("de_DE")
	if ids := toInts(v["ids"]); code != 200 || len(ids) == 0 || ids[0] != de {
		t.Errorf("mBART de_DE: %d %v, want %d first", code, v["ids"], de)
	}
	if mb.Config.ForcedBOSTokenID != nil {
		t.Errorf("the server's mBART pipeline got forced_bos_token_id %d", *mb.Config.ForcedBOSTokenID)
	}
}
