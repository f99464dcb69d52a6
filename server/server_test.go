package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/loupe-ml/loupe/generate"
)

// testPipeline loads explain's tiny GPT-2 (with a tokenizer, no
// generation_config.json).
func testPipeline(t testing.TB) *generate.Pipeline {
	t.Helper()
	p, err := generate.Load(context.Background(), filepath.Join("..", "explain", "testdata", "tiny"), generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newServer returns a Server for p with opt.
func newServer(t testing.TB, p *generate.Pipeline, opt Options) *Server {
	t.Helper()
	s, err := New(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t testing.TB, h http.Handler, path, ctype, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: status %d, body is not JSON: %q", path, body, rec.Code, rec.Body.String())
	}
	return rec.Code, v
}

func TestAPI(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{MaxBodyBytes: 2048, MaxNewTokens: 6})
	code, v := post(t, s, "/api/generate", "application/json", `{"prompt":"the hat","max_new_tokens":3,"ignore":1}`)
	if code != 400 {
		t.Fatalf("unknown field: %d %v", code, v)
	}
	code, v = post(t, s, "/api/generate", "application/json", `{"prompt":"the hat","max_new_tokens":3,"greedy":true}`)
	if code != 200 {
		t.Fatalf("generate: %d %v", code, v)
	}
	// The fields of loupe generate --format json, with its meanings: ids are
	// the generated tokens only, prompt_ids the prompt's.
	if ids, ok := v["ids"].([]any); !ok || len(ids) != 3 || len(v["logprobs"].([]any)) != 3 {
		t.Errorf("generate: ids/logprobs are not the 3 generated tokens: %v", v)
	}
	if pids, ok := v["prompt_ids"].([]any); !ok || len(pids) != len(s.e.Tok.Encode("the hat")) {
		t.Errorf("generate: prompt_ids %v, want the prompt's tokens", v["prompt_ids"])
	}
	if _, ok := v["stats"].(map[string]any)["decode_tokens"]; !ok || v["finish"] != "length" {
		t.Errorf("generate: stats/finish: %v", v)
	}
	code, v = post(t, s, "/api/explain", "application/json", `{"prompt":"the hat","max_new_tokens":3,"seed":1,"methods":["grad_x_input","ig"],"ig_steps":4,"nmf_components":2,"watch":[" a"," the"]}`)
	if code != 200 {
		t.Fatalf("explain: %d %v", code, v)
	}
	for _, k := range []string{"tokens", "ids", "prompt_length", "attributions", "rankings", "layer_predictions", "nmf", "attention", "rankings_watch", "ig_completeness"} {
		if _, ok := v[k]; !ok {
			t.Errorf("explain response lacks %q", k)
		}
	}
	attr := v["attributions"].(map[string]any)
	if len(attr["integrated_gradients"].([]any)) != 3 {
		t.Errorf("attributions: %v", attr)
	}
	code, v = post(t, s, "/api/explain", "", `{"prompt":"the hat","max_new_tokens":3,"seed":1,"interventions":[{"layer":1,"neuron":4,"scale":0}]}`)
	if iv, ok := v["intervention"].(map[string]any); code != 200 || !ok || len(iv["intervened_ids"].([]any)) != 3 {
		t.Fatalf("intervention: %d %v", code, v["intervention"])
	}
	code, v = post(t, s, "/api/explain", "", `{"prompt":"the hat","continuation":" at","target":"logit"}`)
	if code != 200 || v["target"] != "logit" {
		t.Fatalf("forced decoding: %d %v", code, v)
	}
}

func TestAPIErrors(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{MaxBodyBytes: 2048, MaxNewTokens: 6, MaxPromptTokens: 20})
	cases := []struct {
		name, path, ctype, body string
		status                  int
	}{
		{"bad json", "/api/explain", "application/json", `{"prompt":`, 400},
		{"unknown field", "/api/explain", "application/json", `{"prompt":"a","bogus":1}`, 400},
		{"two values", "/api/explain", "application/json", `{"prompt":"a"}{}`, 400},
		{"empty prompt", "/api/explain", "application/json", `{"prompt":"  "}`, 400},
		{"long prompt", "/api/explain", "application/json", `{"prompt":"` + strings.Repeat("x ", 50) + `"}`, 400},
		{"too many tokens", "/api/explain", "application/json", `{"prompt":"a","max_new_tokens":7}`, 400},
		{"negative tokens", "/api/generate", "application/json", `{"prompt":"a","max_new_tokens":-1}`, 400},
		{"bad method", "/api/explain", "application/json", `{"prompt":"a","methods":["lime"]}`, 400},
		{"bad target", "/api/explain", "application/json", `{"prompt":"a","target":"loss"}`, 400},
		{"bad watch", "/api/explain", "application/json", `{"prompt":"a","watch":[" hat"]}`, 400},
		{"bad layer", "/api/explain", "application/json", `{"prompt":"a","nmf_components":2,"from_layer":9}`, 400},
		{"negative layer", "/api/explain", "application/json", `{"prompt":"a","nmf_components":2,"from_layer":-3}`, 400},
		{"bad to layer", "/api/explain", "application/json", `{"prompt":"a","nmf_components":2,"to_layer":7}`, 400},
		{"bad intervention", "/api/explain", "application/json", `{"prompt":"a","interventions":[{"layer":0,"neuron":99999,"scale":0}]}`, 422},
		{"too many factors", "/api/explain", "application/json", `{"prompt":"a","nmf_components":33}`, 400},
		{"bad ig steps", "/api/explain", "application/json", `{"prompt":"a","ig_steps":1000}`, 400},
		{"bad sampling", "/api/generate", "application/json", `{"prompt":"a","greedy":false,"top_p":2}`, 400},
		{"long continuation", "/api/explain", "application/json", `{"prompt":"a","continuation":"` + strings.Repeat(" b", 7) + `"}`, 400},
		{"too large", "/api/explain", "application/json", `{"prompt":"` + strings.Repeat("x", 3000) + `"}`, 413},
		{"content type", "/api/explain", "multipart/form-data; boundary=x", `{"prompt":"a"}`, 415},
	}
	for _, c := range cases {
		code, v := post(t, s, c.path, c.ctype, c.body)
		if code != c.status || v["error"] == nil || v["error"] == "" {
			t.Errorf("%s: status %d (want %d), body %v", c.name, code, c.status, v)
		}
		// The API's errors name its JSON fields, never CLI flags.
		if msg, _ := v["error"].(string); strings.Contains(msg, "--") {
			t.Errorf("%s: error names a CLI flag: %q", c.name, msg)
		}
	}
	// A GET to the API is refused with 405; the server still answers afterwards.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/explain", nil))
	if rec.Code != 405 {
		t.Errorf("GET /api/explain: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != 404 {
		t.Errorf("GET /nope: %d", rec.Code)
	}
	if code, _ := post(t, s, "/api/explain", "application/json", `{"prompt":"the","max_new_tokens":2}`); code != 200 {
		t.Fatalf("the server stopped serving after bad requests: %d", code)
	}
}

func TestIndexPage(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`data-mode="server"`)) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("index: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}

// TestConcurrent runs explanations in parallel through a real server and
// checks that each gets the same answer as alone.
func TestConcurrent(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{MaxConcurrent: 3})
	srv := httptest.NewServer(s)
	defer srv.Close()
	prompts := []string{"the hat", "a cat at the", "that", "heat the tea"}
	want := map[string]string{}
	for _, p := range prompts {
		_, v := post(t, s, "/api/explain", "", `{"prompt":"`+p+`","max_new_tokens":3,"seed":1,"no_attention":true}`)
		b, _ := json.Marshal(v["attributions"])
		want[p] = string(b)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/api/explain", "application/json", strings.NewReader(`{"prompt":"`+p+`","max_new_tokens":3,"seed":1,"no_attention":true}`))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var v map[string]any
			json.NewDecoder(resp.Body).Decode(&v)
			b, _ := json.Marshal(v["attributions"])
			if string(b) != want[p] {
				errs <- "concurrent answer differs for " + p
			}
		}(prompts[i%len(prompts)])
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func FuzzExplainRequest(f *testing.F) {
	for _, seed := range []string{`{"prompt":"the hat","max_new_tokens":1}`, `{"prompt":"a","methods":["ig"],"ig_steps":2,"max_new_tokens":1}`,
		`{"prompt":"x","continuation":" y","raw":true}`, `{"prompt":"", "watch":[" a"]}`, `[]`, `{"prompt":1}`, "\x00"} {
		f.Add(seed)
	}
	s := newServer(f, testPipeline(f), Options{MaxNewTokens: 2, MaxIGSteps: 3, MaxPromptTokens: 8})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/explain", strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("non-JSON answer for %q", body)
		}
	})
}

// TestGenerateSchema checks that an EOS is not in "text" (as loupe generate
// --format json) and that "stop" ends generation before the stop string.
func TestGenerateSchema(t *testing.T) {
	e := testPipeline(t)
	s := newServer(t, e, Options{MaxNewTokens: 12})
	// Find what greedy decoding produces, then stop on a piece of it.
	code, v := post(t, s, "/api/generate", "", `{"prompt":"the hat","max_new_tokens":12,"greedy":true}`)
	if code != 200 {
		t.Fatalf("generate: %d %v", code, v)
	}
	text := v["text"].(string)
	if strings.Contains(text, "<|endoftext|>") {
		t.Errorf("text holds the EOS token: %q", text)
	}
	ids := v["ids"].([]any)
	if v["finish"] == "eos" && int(ids[len(ids)-1].(float64)) != e.Model.Config.EOSTokenID {
		t.Errorf("finish eos but the last id is %v", ids[len(ids)-1])
	}
	if len([]rune(text)) < 2 {
		t.Skipf("greedy text %q too short to test stop", text)
	}
	stop := string([]rune(text)[1:2])
	body, _ := json.Marshal(map[string]any{"prompt": "the hat", "max_new_tokens": 12, "greedy": true, "stop": []string{stop}})
	code, v = post(t, s, "/api/generate", "", string(body))
	if code != 200 || v["finish"] != "stop" || strings.Contains(v["text"].(string), stop) {
		t.Errorf("stop %q: %d finish %v text %q (greedy text %q)", stop, code, v["finish"], v["text"], text)
	}
}

// TestSamplingValidation: the API refuses what loupe generate refuses.
func TestSamplingValidation(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{MaxNewTokens: 4})
	cases := []struct {
		body   string
		status int
		msg    string
	}{
		{`{"prompt":"a","greedy":false,"temperature":0}`, 400, `temperature 0: want a positive number while sampling (do_sample) (for greedy decoding use "greedy": true)`},
		{`{"prompt":"a","temperature":0}`, 400, `temperature 0: want a positive number while sampling`}, // the tiny model samples by default, as loupe generate
		{`{"prompt":"a","greedy":false,"temperature":-1}`, 400, "temperature -1"},
		{`{"prompt":"a","greedy":false,"repetition_penalty":0}`, 400, "repetition_penalty 0"},
		{`{"prompt":"a","greedy":false,"top_p":0}`, 400, "top_p 0"},
		{`{"prompt":"a","greedy":false,"top_p":1.5}`, 400, "top_p 1.5"},
		{`{"prompt":"a","greedy":false,"typical_p":0}`, 400, "typical_p 0"},
		{`{"prompt":"a","greedy":false,"top_k":-1}`, 400, "top_k -1"},
		{`{"prompt":"a","greedy":false,"min_p":2}`, 400, "min_p 2"},
		{`{"prompt":"a","stop":[""]}`, 400, `stop "": want non-empty strings`},
		{"{\"prompt\":\"caf\xe9\"}", 400, "not valid UTF-8"},
		{`{"prompt":"a","max_new_tokens":0}`, 400, "max_new_tokens 0"},
		{`{"prompt":"a","greedy":false,"temperature":0.7,"top_p":0.9,"seed":3,"max_new_tokens":2}`, 200, ""},
		{`{"prompt":"a","greedy":true,"temperature":0,"max_new_tokens":2}`, 200, ""},
		{`{"prompt":"a","greedy":false,"max_new_tokens":2}`, 200, ""},
	}
	for _, c := range cases {
		code, v := post(t, s, "/api/generate", "application/json", c.body)
		msg, _ := v["error"].(string)
		if code != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.body, code, msg, c.status, c.msg)
		}
		if strings.Contains(msg, "generate:") || strings.Contains(msg, "--") {
			t.Errorf("%s: error uses CLI names: %q", c.body, msg)
		}
	}
}

// TestCrossOrigin: POSTs from another origin are refused (CSRF); same-origin
// ones and those without Origin (curl, whatever their Content-Type) pass.
func TestCrossOrigin(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{MaxNewTokens: 2})
	body := `{"prompt":"a","max_new_tokens":1}`
	cases := []struct {
		name, ctype string
		hdr         map[string]string
		status      int
	}{
		{"curl default", "application/x-www-form-urlencoded", nil, 200},
		{"text/plain, no origin", "text/plain", nil, 200},
		{"same origin", "application/json", map[string]string{"Origin": "http://example.com"}, 200},
		{"cross origin text/plain", "text/plain", map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross origin json", "application/json", map[string]string{"Origin": "http://evil.example"}, 403},
		{"null origin", "text/plain", map[string]string{"Origin": "null"}, 403},
		{"other port", "application/json", map[string]string{"Origin": "http://example.com:8081"}, 403},
		{"sec-fetch-site", "text/plain", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, "/api/generate", strings.NewReader(body))
		req.Header.Set("Content-Type", c.ctype)
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var v map[string]any
		json.Unmarshal(rec.Body.Bytes(), &v)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, rec.Code, c.status, v)
		}
		if c.status == 403 && !strings.Contains(fmt.Sprint(v["error"]), "cross-origin") {
			t.Errorf("%s: error %v does not say cross-origin", c.name, v["error"])
		}
	}
}

// TestHostCheck: bound to loopback, only loopback Host names with the
// listening port are answered (DNS rebinding); bound elsewhere, any.
func TestHostCheck(t *testing.T) {
	e := testPipeline(t)
	loop := newServer(t, e, Options{Addr: "127.0.0.1:8080"})
	all := newServer(t, e, Options{Addr: "0.0.0.0:8080"})
	cases := []struct {
		s      *Server
		host   string
		status int
	}{
		{loop, "127.0.0.1:8080", 200},
		{loop, "localhost:8080", 200},
		{loop, "[::1]:8080", 200},
		{loop, "attacker.example:8080", 421},
		{loop, "attacker.example", 421},
		{loop, "localhost:9090", 421},
		{all, "attacker.example:8080", 200},
	}
	for _, c := range cases {
		for _, path := range []string{"/healthz", "/api/generate"} {
			method := http.MethodGet
			if path == "/api/generate" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, path, strings.NewReader(`{"prompt":"a","max_new_tokens":1}`))
			req.Host = c.host
			rec := httptest.NewRecorder()
			c.s.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Errorf("%s Host %q (listening on %s): status %d, want %d: %s", path, c.host, c.s.opt.Addr, rec.Code, c.status, rec.Body.String())
			}
			if c.status == 421 && !strings.Contains(rec.Body.String(), "DNS rebinding") {
				t.Errorf("Host %q: message %s does not explain", c.host, rec.Body.String())
			}
		}
	}
	// A real listener on an ephemeral port: its own URL works.
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = newServer(t, e, Options{Addr: srv.Listener.Addr().String()})
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("own URL %s: %d", srv.URL, resp.StatusCode)
	}
}

// TestExplainDecodesAsGenerate: /api/explain continues a prompt as
// /api/generate does for the same settings and seed.
func TestExplainDecodesAsGenerate(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{MaxNewTokens: 8})
	for _, body := range []string{
		`{"prompt":"the hat","seed":7,"max_new_tokens":6}`,
		`{"prompt":"the hat","seed":3,"max_new_tokens":5,"temperature":1.5,"top_k":0,"min_new_tokens":2}`,
	} {
		code, gen := post(t, s, "/api/generate", "application/json", body)
		if code != 200 {
			t.Fatalf("generate %s: %d %v", body, code, gen)
		}
		code, ex := post(t, s, "/api/explain", "application/json", strings.TrimSuffix(body, "}")+`,"nmf_components":0}`)
		if code != 200 {
			t.Fatalf("explain %s: %d %v", body, code, ex)
		}
		want := fmt.Sprint(gen["ids"])
		ids := ex["ids"].([]any)
		if got := fmt.Sprint(ids[int(ex["prompt_length"].(float64)):]); got != want {
			t.Errorf("%s: explain generated %s, generate %s", body, got, want)
		}
	}
}
