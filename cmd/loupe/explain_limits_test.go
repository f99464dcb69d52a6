package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestColorAllowed(t *testing.T) {
	for _, c := range []struct {
		tty           bool
		noColor, term string
		want          bool
	}{
		{true, "", "xterm-256color", true},
		{false, "", "xterm", false},
		{true, "1", "xterm", false},
		{true, "0", "xterm", false}, // any non-empty value
		{true, "", "dumb", false},
	} {
		env := map[string]string{"NO_COLOR": c.noColor, "TERM": c.term}
		if got := colorAllowed(c.tty, func(k string) string { return env[k] }); got != c.want {
			t.Errorf("tty %v NO_COLOR=%q TERM=%q: %v, want %v", c.tty, c.noColor, c.term, got, c.want)
		}
	}
}

// TestExplainLimits: the context limit is reported, a prompt filling the
// context and interventions past the sequence are errors, and every error
// carries the explain: prefix.
func TestExplainLimits(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	explainFlags.intervene = nil
	var stderr bytes.Buffer
	rootCmd.SetErr(&stderr)
	defer rootCmd.SetErr(nil)
	base := []string{"explain", "--model", model, "--greedy", "--nmf-components", "0", "--html", "", "--methods", "grad_x_input", "--ig-steps", "4"}
	// 15 single-letter tokens in a context of 16.
	out, err := runLoupe(t, append(base, "abcdefghijklmno", "--max-new-tokens", "8", "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if ids := res["ids"].([]any); len(ids) == 16 && res["stopped"] != "context_limit" {
		t.Errorf("JSON stopped = %v, want context_limit", res["stopped"])
	}
	if !strings.Contains(stderr.String(), "context limit of 16 tokens") {
		t.Errorf("stderr %q does not mention the context limit", stderr.String())
	}
	_, err = runLoupe(t, append(base, "abcdefghijklmnop", "--max-new-tokens", "2", "--format", "json")...)
	if err == nil || !strings.Contains(err.Error(), "fills the model's context") {
		t.Errorf("full prompt: %v", err)
	}
	_, err = runLoupe(t, append(base, "hello", "--max-new-tokens", "2", "--intervene", "0:5@99=0", "--format", "json")...)
	explainFlags.intervene = nil
	if err == nil || !strings.Contains(err.Error(), "position 99") {
		t.Errorf("intervention past the sequence: %v", err)
	}
	_, err = runLoupe(t, append(base, "hello", "--ig-steps", "-1")...)
	if err == nil || !strings.HasPrefix(err.Error(), "explain: --ig-steps -1: want") {
		t.Errorf("--ig-steps -1: %v, want an explain: prefix and the flag", err)
	}
}
