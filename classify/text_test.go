package classify

import (
	"strings"
	"testing"
)

func TestTrainingWriteText(t *testing.T) {
	tr := &Training{Classifier: &Classifier{Model: "m", Labels: []string{"a", "b"}, TrainSize: 4, Iterations: 7, Converged: true},
		Train: &Metrics{Accuracy: 0.75}, EmbedSeconds: 1.5, FitSeconds: 0.25}
	var sb strings.Builder
	if err := tr.WriteText(&sb, "clf.json"); err != nil {
		t.Fatal(err)
	}
	want := "trained on 4 examples, 2 labels (a, b) with m\nL-BFGS: 7 iterations, converged true; training accuracy 0.7500\nembedding 1.50s, fitting 0.25s; saved clf.json\n"
	if sb.String() != want {
		t.Errorf("WriteText =\n%q\nwant\n%q", sb.String(), want)
	}
}

func TestPredictionWriteText(t *testing.T) {
	var sb strings.Builder
	Prediction{Label: "pos", Probability: 0.91234, Text: "good"}.WriteText(&sb)
	if sb.String() != "pos\t0.912\tgood\n" {
		t.Errorf("WriteText = %q", sb.String())
	}
}

func TestUnseenSummary(t *testing.T) {
	m := &Metrics{Labels: []string{"a", "b", "x", "y"}, Support: []int{3, 4, 2, 1}, UnseenLabels: []string{"x", "y"}}
	if got := m.UnseenSummary(); got != `"x" (2 examples), "y" (1 examples)` {
		t.Errorf("UnseenSummary = %q", got)
	}
	if got := (&Metrics{}).UnseenSummary(); got != "" {
		t.Errorf("none: %q", got)
	}
}
