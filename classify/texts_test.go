package classify

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// letters embeds a text as its counts of 'a' and 'b'.
type letters struct{ err error }

func (letters) Name() string { return "letters" }

func (l letters) Embed(texts []string) ([][]float32, error) {
	if l.err != nil {
		return nil, l.err
	}
	X := make([][]float32, len(texts))
	for i, t := range texts {
		X[i] = []float32{float32(strings.Count(t, "a")), float32(strings.Count(t, "b"))}
	}
	return X, nil
}

func TestFitTexts(t *testing.T) {
	texts := []string{"aaa", "aab", "aaaa", "bbb", "abb", "bbbb"}
	labels := []string{"A", "A", "A", "B", "B", "B"}
	tr, err := FitTexts(letters{}, texts, labels, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Classifier
	if c.Model != "letters" || c.TrainSize != 6 || tr.Train.Accuracy != 1 || tr.EmbedSeconds < 0 || tr.FitSeconds < 0 {
		t.Errorf("model %q, size %d, accuracy %v", c.Model, c.TrainSize, tr.Train.Accuracy)
	}
	preds, err := c.PredictTexts(letters{}, []string{"aaaaab", "bbbbba"})
	if err != nil {
		t.Fatal(err)
	}
	if preds[0].Label != "A" || preds[1].Label != "B" || preds[1].Text != "bbbbba" ||
		preds[0].Probability != preds[0].Probabilities["A"] || preds[0].Probability <= 0.5 {
		t.Errorf("predictions %+v", preds)
	}
	m, err := c.ScoreTexts(letters{}, []string{"aaab", "bbba", "ab"}, []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 3 || len(m.UnseenLabels) != 1 || m.Accuracy != 2.0/3 {
		t.Errorf("metrics %+v", m)
	}
	var buf bytes.Buffer
	if err := m.WriteReport(&buf); err != nil || !strings.Contains(buf.String(), "accuracy 0.6667") ||
		!strings.Contains(buf.String(), "never predicted): C") {
		t.Errorf("report %q, %v", buf.String(), err)
	}

	// Options are checked before embedding; embedding errors come back.
	bad := DefaultOptions()
	bad.C = -1
	var oe *OptionError
	if _, err := FitTexts(letters{err: errors.New("unreachable")}, texts, labels, bad); !errors.As(err, &oe) {
		t.Errorf("C -1: %v", err)
	}
	boom := errors.New("boom")
	if _, err := FitTexts(letters{err: boom}, texts, labels, DefaultOptions()); !errors.Is(err, boom) {
		t.Errorf("embedding error: %v", err)
	}
	if _, err := c.PredictTexts(letters{err: boom}, texts); !errors.Is(err, boom) {
		t.Errorf("embedding error: %v", err)
	}
}
