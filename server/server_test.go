package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

func testExplainer(t testing.TB) *explain.Explainer {
	t.Helper()
	dir := filepath.Join("..", "explain", "testdata", "tiny")
	m, err := gpt2.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.LoadBPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := explain.NewExplainer("tiny", m, tok)
	if err != nil {
		t.Fatal(err)
	}
	return e
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
	s := New(testExplainer(t), Options{MaxBodyBytes: 2048, MaxNewTokens: 6})
	code, v := post(t, s, "/api/generate", "application/json", `{"prompt":"the hat","max_new_tokens":3}`)
	if code != 200 || len(v["ids"].([]any)) != int(v["prompt_length"].(float64))+3 {
		t.Fatalf("generate: %d %v", code, v)
	}
	code, v = post(t, s, "/api/explain", "application/json", `{"prompt":"the hat","max_new_tokens":3,"methods":["grad_x_input","ig"],"ig_steps":4,"nmf_components":2,"watch":[" a"," the"]}`)
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
	code, v = post(t, s, "/api/explain", "", `{"prompt":"the hat","max_new_tokens":3,"interventions":[{"layer":1,"neuron":4,"scale":0}]}`)
	if iv, ok := v["intervention"].(map[string]any); code != 200 || !ok || len(iv["intervened_ids"].([]any)) != 3 {
		t.Fatalf("intervention: %d %v", code, v["intervention"])
	}
	code, v = post(t, s, "/api/explain", "", `{"prompt":"the hat","continuation":" at","target":"logit"}`)
	if code != 200 || v["target"] != "logit" {
		t.Fatalf("forced decoding: %d %v", code, v)
	}
}

func TestAPIErrors(t *testing.T) {
	s := New(testExplainer(t), Options{MaxBodyBytes: 2048, MaxNewTokens: 6, MaxPromptTokens: 20})
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
		{"bad layer", "/api/explain", "application/json", `{"prompt":"a","nmf_components":2,"from_layer":9}`, 422},
		{"bad intervention", "/api/explain", "application/json", `{"prompt":"a","interventions":[{"layer":0,"neuron":99999,"scale":0}]}`, 422},
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
	s := New(testExplainer(t), Options{})
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
	s := New(testExplainer(t), Options{MaxConcurrent: 3})
	srv := httptest.NewServer(s)
	defer srv.Close()
	prompts := []string{"the hat", "a cat at the", "that", "heat the tea"}
	want := map[string]string{}
	for _, p := range prompts {
		_, v := post(t, s, "/api/explain", "", `{"prompt":"`+p+`","max_new_tokens":3,"no_attention":true}`)
		b, _ := json.Marshal(v["attributions"])
		want[p] = string(b)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/api/explain", "application/json", strings.NewReader(`{"prompt":"`+p+`","max_new_tokens":3,"no_attention":true}`))
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
	s := New(testExplainer(f), Options{MaxNewTokens: 2, MaxIGSteps: 3, MaxNMF: 2, MaxPromptTokens: 8})
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
