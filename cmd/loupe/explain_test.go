package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runLoupe runs the CLI in-process with args and returns its standard output.
func runLoupe(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	resetFlags()
	rootCmd.SetOut(nil) // os.Stdout, the pipe
	rootCmd.SetArgs(args)
	err = rootCmd.Execute()
	w.Close()
	os.Stdout = old
	return <-done, err
}

func TestExplainCommand(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	html := filepath.Join(t.TempDir(), "out.html")
	base := []string{"explain", "--model", model, "the hat", "--max-new-tokens", "3", "--nmf-components", "2",
		"--methods", "grad_x_input,ig", "--ig-steps", "4", "--target", "prob", "--watch", " a", "--watch", " the", "--greedy", "--from-layer", "0", "--to-layer", "-1", "--html", ""}
	out, err := runLoupe(t, append(append([]string{}, base...), "--html", html, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--format json printed %q: %v", out, err)
	}
	for _, k := range []string{"tokens", "ids", "prompt_length", "attributions", "rankings", "layer_predictions", "nmf", "attention", "rankings_watch"} {
		if res[k] == nil {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "loupe-data") {
		t.Fatalf("HTML file: %v", err)
	}
	out, err = runLoupe(t, append(append([]string{}, base...), "--format", "text")...)
	if err != nil || !strings.Contains(out, "grad_x_input attributions") || !strings.Contains(out, "rankings") {
		t.Fatalf("text output %q, %v", out, err)
	}
	for _, bad := range [][]string{
		{"--methods", "lime"},
		{"--watch", " hat"},
		{"--html", filepath.Join(t.TempDir(), "missing", "x.html")},
		{"--from-layer", "9"},
		{"--to-layer", "7"},
		{"--target", "loss"},
		{"--intervene", "1:2"},
		{"--ig-steps", "-1"},
		{"--nmf-components", "33"},
		{"--top-p", "2"},
	} {
		args := append(append([]string{}, base...), "--format", "text")
		args = append(args, bad...)
		if _, err := runLoupe(t, args...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestExplainDecodesAsGenerate: the same prompt, seed and settings give
// the same continuation through loupe generate and loupe explain (both
// resolve generation_config.json with the flags and decode with generate's
// loop), sampling included.
func TestExplainDecodesAsGenerate(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	for _, dec := range [][]string{
		{"--seed", "7", "--max-new-tokens", "6"},
		{"--seed", "3", "--max-new-tokens", "5", "--temperature", "1.5", "--top-k", "0", "--min-new-tokens", "2", "--ignore-eos"},
	} {
		out, _, err := runCmd(t, append([]string{"generate", "--model", model, "--format", "json", "the hat"}, dec...)...)
		if err != nil {
			t.Fatal(err)
		}
		var gen struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &gen); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		out, _, err = runCmd(t, append([]string{"explain", "--model", model, "--format", "json", "--nmf-components", "0", "--html", "", "the hat"}, dec...)...)
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			IDs          []int `json:"ids"`
			PromptLength int   `json:"prompt_length"`
		}
		if err := json.Unmarshal([]byte(out), &ex); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if got := ex.IDs[ex.PromptLength:]; !slices.Equal(got, gen.IDs) {
			t.Errorf("%v: explain generated %v, generate %v", dec, got, gen.IDs)
		}
	}
}
