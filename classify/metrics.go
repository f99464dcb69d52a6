package classify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Metrics summarise predictions against true labels.
type Metrics struct {
	Labels    []string  `json:"labels"`
	N         int       `json:"n"`
	Accuracy  float64   `json:"accuracy"`
	MacroF1   float64   `json:"macro_f1"`
	Precision []float64 `json:"precision"` // per label
	Recall    []float64 `json:"recall"`    // per label
	F1        []float64 `json:"f1"`        // per label
	Support   []int     `json:"support"`   // true examples per label
	// Confusion[i][j] counts examples of true label i predicted as j.
	Confusion [][]int `json:"confusion"`
	// UnseenLabels are true labels the classifier was not trained on (set
	// by the caller; they are the last entries of Labels and never
	// predicted, so their examples count as errors).
	UnseenLabels []string `json:"unseen_labels,omitempty"`
}

// Evaluate compares predicted and true label indices in [0, len(labels)).
// Precision, recall and F1 of a label without predictions or examples are 0,
// as scikit-learn reports them (zero_division=0); the macro F1 averages
// over all labels.
func Evaluate(labels []string, truth, pred []int) (*Metrics, error) {
	k := len(labels)
	if len(truth) != len(pred) {
		return nil, fmt.Errorf("classify: %d true labels but %d predictions", len(truth), len(pred))
	}
	if len(truth) == 0 {
		return nil, fmt.Errorf("classify: no examples to evaluate")
	}
	m := &Metrics{Labels: labels, N: len(truth), Confusion: make([][]int, k),
		Precision: make([]float64, k), Recall: make([]float64, k), F1: make([]float64, k), Support: make([]int, k)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	correct := 0
	for i := range truth {
		t, p := truth[i], pred[i]
		if t < 0 || t >= k || p < 0 || p >= k {
			return nil, fmt.Errorf("classify: example %d: label index out of range [0, %d)", i, k)
		}
		m.Confusion[t][p]++
		if t == p {
			correct++
		}
	}
	m.Accuracy = float64(correct) / float64(len(truth))
	for c := 0; c < k; c++ {
		tp := m.Confusion[c][c]
		predicted, actual := 0, 0
		for j := 0; j < k; j++ {
			predicted += m.Confusion[j][c]
			actual += m.Confusion[c][j]
		}
		m.Support[c] = actual
		if predicted > 0 {
			m.Precision[c] = float64(tp) / float64(predicted)
		}
		if actual > 0 {
			m.Recall[c] = float64(tp) / float64(actual)
		}
		if s := m.Precision[c] + m.Recall[c]; s > 0 {
			m.F1[c] = 2 * m.Precision[c] * m.Recall[c] / s
		}
		m.MacroF1 += m.F1[c] / float64(k)
	}
	return m, nil
}

// Score predicts each row of X and evaluates the predictions against the
// true labels. A true label the classifier was not trained on is scored
// as scikit-learn's classification_report scores it: it gets a row of its
// own (after the classifier's labels, listed in UnseenLabels, its Support
// the number of its examples) that is never predicted, so each of its
// examples counts as an error.
func (c *Classifier) Score(X [][]float32, labels []string) (*Metrics, error) {
	if len(X) != len(labels) {
		return nil, fmt.Errorf("classify: %d examples but %d labels", len(X), len(labels))
	}
	index := make(map[string]int, len(c.Labels))
	for i, l := range c.Labels {
		index[l] = i
	}
	all := append([]string(nil), c.Labels...)
	truth := make([]int, len(labels))
	for i, l := range labels {
		k, ok := index[l]
		if !ok {
			k = len(all)
			index[l] = k
			all = append(all, l)
		}
		truth[i] = k
	}
	pred := make([]int, len(X))
	for i, x := range X {
		var err error
		if pred[i], _, err = c.Predict(x); err != nil {
			return nil, err
		}
	}
	m, err := Evaluate(all, truth, pred)
	if err != nil {
		return nil, err
	}
	if len(all) > len(c.Labels) {
		m.UnseenLabels = all[len(c.Labels):]
	}
	return m, nil
}

// WriteReport writes m as a table, like scikit-learn's
// classification_report, followed by the confusion matrix.
func (m *Metrics) WriteReport(out io.Writer) error {
	fmt.Fprintf(out, "examples %d   accuracy %.4f   macro-F1 %.4f\n\n", m.N, m.Accuracy, m.MacroF1)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tprecision\trecall\tf1\tsupport\t")
	for i, l := range m.Labels {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t\n", l, m.Precision[i], m.Recall[i], m.F1[i], m.Support[i])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(m.UnseenLabels) > 0 {
		fmt.Fprintf(out, "\nnot known to the classifier (never predicted): %s\n", strings.Join(m.UnseenLabels, ", "))
	}
	fmt.Fprintln(out, "\nconfusion matrix (rows: true label, columns: predicted)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, l := range m.Labels {
		fmt.Fprintf(tw, "%s\t", l)
	}
	fmt.Fprintln(tw)
	for i, l := range m.Labels {
		fmt.Fprintf(tw, "%s\t", l)
		for _, n := range m.Confusion[i] {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
