package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseIntervention(t *testing.T) {
	ok := []struct {
		in            string
		layer, neuron int
		pos           []int
		scale         float32
	}{
		{"5:1234=0", 5, 1234, nil, 0},
		{"0:7@3,4=2.5", 0, 7, []int{3, 4}, 2.5},
		{" 1 : 2 @ 0 = -1", 1, 2, []int{0}, -1},
	}
	for _, c := range ok {
		iv, err := parseIntervention(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if iv.Layer != c.layer || iv.Neuron != c.neuron || iv.Scale != c.scale || len(iv.Positions) != len(c.pos) {
			t.Fatalf("%q: got %+v", c.in, iv)
		}
		for i := range c.pos {
			if iv.Positions[i] != c.pos[i] {
				t.Fatalf("%q: positions %v", c.in, iv.Positions)
			}
		}
	}
	for _, bad := range []string{"", "5:3", "5=0", "a:3=0", "5:b=0", "5:3=x", "5:3@=1", "5:3@-1=1", "5:3@1,,2=1"} {
		if _, err := parseIntervention(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseIntervention(f *testing.F) {
	for _, s := range []string{"5:1234=0", "0:7@3,4=2.5", "1:2@0=-1", "=", "@:", "9999999999999999999:1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := parseIntervention(s)
		if err != nil {
			return
		}
		for _, p := range iv.Positions {
			if p < 0 {
				t.Fatalf("%q: negative position %d accepted", s, p)
			}
		}
	})
}

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
		{"--ig-steps", "0"},
		{"--top-p", "2"},
	} {
		args := append(append([]string{}, base...), "--format", "text")
		args = append(args, bad...)
		if _, err := runLoupe(t, args...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
