package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTranslateExplain: --explain prints one alignment line, one layer
// predictions line and one saliency line (grad_x_input, the default) per
// generated token, --format json the whole explanation (the target the same ids
// translate generates, cross-attention [layer][head][target][source]),
// --explain-html writes the explorable with that JSON inside, and
// --continuation explains the given ids.
func TestTranslateExplain(t *testing.T) {
	src, ids, _ := s2sGolden(t, "marian/greedy")
	srcArg := joinInts(src, ",")
	out, _, err := runCmd(t, "translate", "--model", tinyMarian, "--source-ids", srcArg, "--max-length", "12", "--explain")
	if err != nil {
		t.Fatal(err)
	}
	// With the self-attention summaries: a header and a line per source
	// token (encoder), a header and a line per target token (decoder).
	if n, want := strings.Count(out, "\n"), 4*len(ids)+len(src)+6; n != want || !strings.Contains(out, "encoder self-attention, layer 0 (the last), mean over 4 heads") ||
		!strings.Contains(out, "decoder self-attention, layer 1 (the last), mean over 2 heads") {
		t.Fatalf("--explain printed %d lines, want %d:\n%s", n, want, out)
	}
	out, _, err = runCmd(t, "translate", "--model", tinyMarian, "--source-ids", srcArg, "--max-length", "12", "--explain", "--no-self-attention")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3*len(ids)+4 || !strings.HasPrefix(lines[0], "source (") || !strings.Contains(lines[1], "mean over 2 layers × 2 heads") ||
		!strings.Contains(lines[len(ids)+2], "logit lens") || !strings.Contains(lines[2*len(ids)+2], "  L1 ") ||
		!strings.HasPrefix(lines[2*len(ids)+3], "saliency: grad_x_input of each target token's prob") || !strings.Contains(lines[len(lines)-1], "tgt:") {
		t.Fatalf("--explain printed %d lines, want %d:\n%s", len(lines), 3*len(ids)+4, out)
	}
	html := filepath.Join(t.TempDir(), "x.html")
	out, stderr, err := runCmd(t, "translate", "--model", tinyMarian, "--source-ids", srcArg, "--max-length", "12", "--explain-html", html, "--top-sources", "2", "--format", "json",
		"--methods", "gradient,ig", "--target", "logit", "--ig-steps", "3")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		TargetIDs []int           `json:"target_ids"`
		Source    []string        `json:"source"`
		Cross     [][][][]float64 `json:"cross_attention"`
		Alignment [][]struct {
			Position int `json:"position"`
		} `json:"alignment"`
		Generated bool `json:"generated"`
		Enc       struct {
			Layers int             `json:"layers"`
			Heads  int             `json:"heads"`
			Probs  [][][][]float64 `json:"probs"`
		} `json:"encoder_attention"`
		Dec struct {
			Probs [][][][]float64 `json:"probs"`
		} `json:"decoder_attention"`
		Inputs   []string `json:"decoder_inputs"`
		Saliency struct {
			Methods []string               `json:"methods"`
			Target  string                 `json:"target"`
			IGSteps int                    `json:"ig_steps"`
			Source  map[string][][]float64 `json:"source"`
			Prefix  map[string][][]float64 `json:"prefix"`
		} `json:"saliency"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !slices.Equal(e.TargetIDs, ids) || !e.Generated || len(e.Source) != len(src) {
		t.Errorf("json target %v (generated %v), want the reference's %v", e.TargetIDs, e.Generated, ids)
	}
	if len(e.Cross) != 2 || len(e.Cross[1]) != 2 || len(e.Cross[1][1]) != len(ids) || len(e.Cross[1][1][0]) != len(src) {
		t.Errorf("cross_attention shape %d×%d×%d×%d", len(e.Cross), len(e.Cross[1]), len(e.Cross[1][1]), len(e.Cross[1][1][0]))
	}
	if e.Enc.Layers != 1 || e.Enc.Heads != 4 || len(e.Enc.Probs) != 1 || len(e.Enc.Probs[0][3]) != len(src) || len(e.Enc.Probs[0][3][0]) != len(src) ||
		len(e.Dec.Probs) != 2 || len(e.Dec.Probs[1][1]) != len(ids) || len(e.Dec.Probs[1][1][2]) != 3 || len(e.Inputs) != len(ids) {
		t.Errorf("self-attention: encoder %+v, decoder %d layers, %d decoder inputs", e.Enc, len(e.Dec.Probs), len(e.Inputs))
	}
	if len(e.Alignment) != len(ids) || len(e.Alignment[0]) != 2 {
		t.Errorf("alignment %v: want 2 sources for each of %d tokens", e.Alignment, len(ids))
	}
	if s := e.Saliency; !slices.Equal(s.Methods, []string{"gradient", "integrated_gradients"}) || s.Target != "logit" || s.IGSteps != 3 ||
		len(s.Source["integrated_gradients"]) != len(ids) || len(s.Source["gradient"][0]) != len(src) || len(s.Prefix["gradient"][2]) != 3 {
		t.Errorf("saliency %+v", s)
	}
	if stderr != "" {
		t.Errorf("--format json wrote %q to stderr", stderr)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), `"cross_attention":[[[[`) || !strings.Contains(string(page), "s2s-heatmap") {
		t.Errorf("--explain-html: %v, %d bytes without the explanation", err, len(page))
	}
	out, _, err = runCmd(t, "summarize", "--model", tinyT5, "--source-ids", srcArg, "--continuation", "3,4,1", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil || !slices.Equal(e.TargetIDs, []int{3, 4, 1}) || e.Generated {
		t.Errorf("--continuation: target %v generated %v (%v)", e.TargetIDs, e.Generated, err)
	}
}

// TestTranslateExplainErrors: bad explain flags are refused before
// anything runs, naming the flag.
func TestTranslateExplainErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--source-ids", "5,2", "--continuation", "3,x"}, "--continuation"},
		{[]string{"--source-ids", "5,2", "--explain", "--top-sources", "0"}, "--top-sources 0"},
		{[]string{"--input", filepath.Join(dir, "in.jsonl"), "--explain"}, "--explain explains one source"},
		{[]string{"--source-ids", "5,2", "--explain-html", filepath.Join(dir, "missing", "x.html")}, "missing"},
		{[]string{"--source-ids", "5,2", "--continuation", "99999"}, "continuation token id 99999"},
		{[]string{"--source-ids", "5,2", "--explain", "--methods", "gradient,attention"}, `--methods "attention": want some of`},
		{[]string{"--source-ids", "5,2", "--explain", "--target", "loss"}, `--target "loss": want prob or logit`},
		{[]string{"--source-ids", "5,2", "--explain", "--methods", "ig", "--ig-steps", "-2"}, "--ig-steps -2: want"},
	} {
		_, _, err := runCmd(t, append([]string{"translate", "--model", tinyMarian}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
