package classify

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes what training did, the classifier saved at path
// included, in three lines: data and model, the fit, the times.
func (t *Training) WriteText(w io.Writer, path string) error {
	c := t.Classifier
	fmt.Fprintf(w, "trained on %d examples, %d labels (%s) with %s\n", c.TrainSize, len(c.Labels), strings.Join(c.Labels, ", "), c.Model)
	fmt.Fprintf(w, "L-BFGS: %d iterations, converged %v; training accuracy %.4f\n", c.Iterations, c.Converged, t.Train.Accuracy)
	_, err := fmt.Fprintf(w, "embedding %.2fs, fitting %.2fs; saved %s\n", t.EmbedSeconds, t.FitSeconds, path)
	return err
}

// WriteText writes p as one line: "LABEL<tab>PROBABILITY<tab>TEXT".
func (p Prediction) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s\t%.3f\t%s\n", p.Label, p.Probability, p.Text)
	return err
}

// UnseenSummary lists the UnseenLabels with their numbers of examples:
// `"x" (2 examples), "y" (1 examples)`; it is empty without any.
func (m *Metrics) UnseenSummary() string {
	parts := make([]string, len(m.UnseenLabels))
	for i, l := range m.UnseenLabels {
		parts[i] = fmt.Sprintf("%q (%d examples)", l, m.Support[len(m.Labels)-len(m.UnseenLabels)+i])
	}
	return strings.Join(parts, ", ")
}
