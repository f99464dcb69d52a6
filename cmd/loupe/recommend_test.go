package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRecommendFlagValues: values that mean nothing are errors naming the
// flag instead of silently meaning the default.
func TestRecommendFlagValues(t *testing.T) {
	dir := t.TempDir()
	synth := []string{"recommend", "synth", "--out-dir", dir, "--items", "60", "--groups", "6", "--markets", "2", "--sessions", "300",
		"--min-len", "3", "--max-len", "6", "--noise", "0.1", "--test", "0.2", "--seed", "1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sessions", "0"}, "--sessions 0"},
		{[]string{"--groups", "0"}, "--groups 0"},
		{[]string{"--items", "-1"}, "--items -1"},
		{[]string{"--noise", "2"}, "--noise 2: want a probability in [0, 1]"},
		{[]string{"--test", "1"}, "--test 1: want a fraction in [0, 1)"},
	} {
		_, _, err := runW2V(t, append(append([]string{}, synth...), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("synth %v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, _, err := runW2V(t, synth...); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.bin")
	train := []string{"recommend", "train", "--sessions", filepath.Join(dir, "train.txt"), "--out", model, "--size", "8", "--window", "0",
		"--negative", "5", "--epochs", "1", "--min-count", "1", "--alpha", "0.025", "--threads", "1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "0"}, "--size 0"},
		{[]string{"--epochs", "0"}, "--epochs 0"},
		{[]string{"--negative", "0"}, "--negative 0"},
		{[]string{"--threads", "-2"}, "--threads -2"},
		{[]string{"--window", "-1"}, "--window -1: want >= 0 (0: the whole session)"},
		{[]string{"--alpha", "0"}, "--alpha 0: want > 0"},
		{[]string{"--min-count", "-1"}, "--min-count -1: want >= 0"},
	} {
		_, _, err := runW2V(t, append(append([]string{}, train...), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("train %v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, _, err := runW2V(t, train...); err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(dir, "test.txt")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"similar", "--model", model, "-n", "0", "i1"}, "-n/--top 0"},
		{[]string{"similar", "--model", model, "-n", "-1", "i1"}, "-n/--top -1"},
		{[]string{"for-user", "--model", model, "--recent", "i1 i2", "-n", "0", "--half-life", "0"}, "-n/--top 0"},
		{[]string{"for-user", "--model", model, "--recent", "i1 i2", "-n", "3", "--half-life", "-1"}, "--half-life -1"},
		{[]string{"eval", "--model", model, "--sessions", test, "-k", "0", "--half-life", "0"}, "-k/--k 0"},
		{[]string{"eval", "--model", model, "--sessions", test, "-k", "5", "--half-life", "-1"}, "--half-life -1"},
	} {
		_, _, err := runW2V(t, append([]string{"recommend"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	stdout, _, err := runW2V(t, "recommend", "eval", "--model", model, "--sessions", test, "-k", "5", "--half-life", "0")
	if err != nil || !strings.Contains(stdout, "hit-rate@5") {
		t.Errorf("eval -k 5: %q, %v", stdout, err)
	}
	// One call trains with the markets file; errors passed through from
	// word2vec carry one prefix.
	if _, _, err := runW2V(t, append(train, "--markets", filepath.Join(dir, "markets.tsv"))...); err != nil {
		t.Errorf("train --markets: %v", err)
	}
	for _, args := range [][]string{
		{"for-user", "--model", model, "--recent", "i1 nope", "-n", "3", "--half-life", "0"},
		{"similar", "--model", filepath.Join(dir, "none.bin"), "-n", "3", "i1"},
		append(append([]string{}, train[1:]...), "--min-count", "1000000"),
	} {
		_, _, err := runW2V(t, append([]string{"recommend"}, args...)...)
		if err == nil || !strings.HasPrefix(err.Error(), "recommend: ") || strings.Contains(err.Error(), "word2vec") {
			t.Errorf("%v: error %v, want one recommend: prefix", args, err)
		}
	}
}
