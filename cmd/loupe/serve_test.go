package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/s2stest"
	"github.com/loupe-ml/loupe/seq2seq"
	"github.com/loupe-ml/loupe/server"
)

// TestServeDecodesAsGenerate: the same prompt and seed give the same text
// through loupe generate and through loupe serve's API, with the model's
// defaults (no generation_config.json: sampling, top-k 50) and with a
// generation_config.json's (temperature, top-k, length from the file).
func TestServeDecodesAsGenerate(t *testing.T) {
	tiny := filepath.Join("..", "..", "explain", "testdata", "tiny")
	withConfig := t.TempDir()
	entries, err := os.ReadDir(tiny)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tiny, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(withConfig, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gc := `{"do_sample": true, "temperature": 0.7, "top_k": 5, "max_new_tokens": 5}`
	if err := os.WriteFile(filepath.Join(withConfig, "generation_config.json"), []byte(gc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{tiny, withConfig} {
		for _, seed := range []string{"1", "7", "12345"} {
			var buf bytes.Buffer
			resetFlags()
			rootCmd.SetOut(&buf)
			rootCmd.SetArgs([]string{"generate", "--model", model, "--seed", seed, "--format", "json", "the hat"})
			err := rootCmd.Execute()
			rootCmd.SetOut(nil)
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			var cli struct {
				IDs  []int  `json:"ids"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal([]byte(out), &cli); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			p, err := loadPipeline(context.Background(), model)
			if err != nil {
				t.Fatal(err)
			}
			s, err := server.New(p, server.Options{})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/api/generate", strings.NewReader(`{"prompt":"the hat","seed":`+seed+`}`))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			p.Close()
			var api struct {
				IDs  []int  `json:"ids"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &api); rec.Code != 200 || err != nil {
				t.Fatalf("API: %d %s", rec.Code, rec.Body)
			}
			if api.Text != cli.Text || len(api.IDs) != len(cli.IDs) || len(cli.IDs) == 0 {
				t.Errorf("%s seed %s: API %q %v, CLI %q %v", filepath.Base(model), seed, api.Text, api.IDs, cli.Text, cli.IDs)
			}
			for i := range cli.IDs {
				if api.IDs[i] != cli.IDs[i] {
					t.Errorf("%s seed %s: API ids %v, CLI %v", filepath.Base(model), seed, api.IDs, cli.IDs)
					break
				}
			}
			if model == withConfig && len(cli.IDs) > 5 {
				t.Errorf("seed %s: %d tokens, want at most the file's max_new_tokens 5", seed, len(cli.IDs))
			}
		}
	}
}

// TestServeSeq2SeqDecodesAsGenerate: on a text-to-text model the same
// source and seed give the same text through loupe generate and through
// loupe serve's /api/generate (server.NewSeq2Seq).
func TestServeSeq2SeqDecodesAsGenerate(t *testing.T) {
	dir := s2stest.T5(t, filepath.Join("..", ".."), nil)
	for _, seed := range []string{"1", "7"} {
		out, _, err := runCmd(t, "generate", "--model", dir, "--do-sample", "--seed", seed, "--max-new-tokens", "5", "--format", "json", "hello world")
		if err != nil {
			t.Fatal(err)
		}
		var cli struct {
			IDs  []int  `json:"ids"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(out), &cli); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		p, err := seq2seq.Load(context.Background(), dir, seq2seq.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := server.NewSeq2Seq(p, server.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/generate", strings.NewReader(`{"prompt":"hello world","greedy":false,"max_new_tokens":5,"seed":`+seed+`}`)))
		p.Close()
		var api struct {
			IDs  []int  `json:"ids"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &api); rec.Code != 200 || err != nil {
			t.Fatalf("API: %d %s", rec.Code, rec.Body)
		}
		if api.Text != cli.Text || !slices.Equal(api.IDs, cli.IDs) || len(cli.IDs) == 0 {
			t.Errorf("seed %s: API %q %v, CLI %q %v", seed, api.Text, api.IDs, cli.Text, cli.IDs)
		}
	}
}
