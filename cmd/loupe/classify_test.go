package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/classify"
)

// runCmd runs the CLI in-process, capturing cobra's output and error streams.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errb)
	defer rootCmd.SetOut(nil)
	defer rootCmd.SetErr(nil)
	resetFlags()
	rootCmd.SetArgs(args)
	outputFormat = "text"
	err = rootCmd.Execute()
	return out.String(), errb.String(), err
}

// TestClassifyEvalUnseenLabel: a test label the classifier never saw is
// scored as errors (as scikit-learn does) with a warning, not an abort.
func TestClassifyEvalUnseenLabel(t *testing.T) {
	model := filepath.Join("..", "..", "embed", "testdata", "st")
	dir := t.TempDir()
	train := filepath.Join(dir, "train.jsonl")
	os.WriteFile(train, []byte(`{"text":"a cat","label":"animal"}
{"text":"a dog","label":"animal"}
{"text":"red car","label":"vehicle"}
{"text":"a truck","label":"vehicle"}
`), 0o644)
	clf := filepath.Join(dir, "clf.json")
	if _, _, err := runCmd(t, "classify", "train", "--model", model, "--data", train, "--out", clf); err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(dir, "test.jsonl")
	os.WriteFile(test, []byte(`{"text":"a cat","label":"animal"}
{"text":"red car","label":"vehicle"}
{"text":"a rose","label":"plant"}
{"text":"a tulip","label":"plant"}
`), 0o644)
	out, stderr, err := runCmd(t, "classify", "eval", "--classifier", clf, "--data", test, "--format", "json")
	if err != nil {
		t.Fatalf("eval with an unseen label: %v", err)
	}
	var m struct {
		Labels   []string
		N        int
		Accuracy float64
		Support  []int
		Recall   []float64
		Unseen   []string `json:"unseen_labels"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if m.N != 4 || len(m.Labels) != 3 || m.Labels[2] != "plant" || m.Support[2] != 2 || m.Recall[2] != 0 || m.Accuracy > 0.5 {
		t.Errorf("metrics %+v: want plant as a third label with 2 wrong examples", m)
	}
	if len(m.Unseen) != 1 || m.Unseen[0] != "plant" {
		t.Errorf("unseen_labels %v", m.Unseen)
	}
	if !strings.Contains(stderr, `"plant" (2 examples)`) {
		t.Errorf("no warning on stderr: %q", stderr)
	}

	// Flags are checked with their CLI names.
	for _, c := range []struct{ flag, val, want string }{
		{"--C", "0", "--C 0"}, {"--max-iter", "0", "--max-iter 0"}, {"--tol", "-1", "--tol -1"},
	} {
		classifyFlags.opts = classify.DefaultOptions()
		_, _, err := runCmd(t, "classify", "train", "--model", model, "--data", train, "--out", clf, c.flag, c.val)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v", c.flag, c.val, err)
		}
	}
	classifyFlags.opts = classify.DefaultOptions()

	// Saving into a path whose parent is a file names the output, not a temp file.
	_, _, err = runCmd(t, "classify", "train", "--model", model, "--data", train, "--out", filepath.Join(train, "clf.json"))
	if err == nil || strings.Contains(err.Error(), ".tmp-") {
		t.Errorf("bad --out: %v", err)
	}

	// Non-UTF-8 input is an error naming the line.
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\":\"ok\",\"label\":\"animal\"}\n{\"text\":\"caf\xe9\",\"label\":\"animal\"}\n"), 0o644)
	if _, _, err := runCmd(t, "classify", "eval", "--classifier", clf, "--data", bad); err == nil || !strings.Contains(err.Error(), "line 2 is not valid UTF-8") {
		t.Errorf("non-UTF-8 data: %v", err)
	}
	if _, _, err := runCmd(t, "classify", "predict", "--classifier", clf, "caf\xe9"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 argument: %v", err)
	}
}
