package classify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// FormatVersion is the version written in saved classifiers.
const FormatVersion = 1

// Classifier is a trained classifier with what is needed to apply it: the
// embedding model its inputs come from and the label names.
type Classifier struct {
	Version     int         `json:"version"`
	Model       string      `json:"model"` // embedding model (hub id or directory)
	Dim         int         `json:"dim"`   // embedding length
	Labels      []string    `json:"labels"`
	C           float64     `json:"C"`
	ClassWeight string      `json:"class_weight,omitempty"`
	Iterations  int         `json:"iterations"`
	Converged   bool        `json:"converged"`
	TrainSize   int         `json:"train_size"`
	Weights     [][]float64 `json:"weights"`    // [K][Dim]
	Intercepts  []float64   `json:"intercepts"` // [K]
}

// Fit trains a classifier on embeddings X with string labels. Label names
// are sorted, as scikit-learn orders classes_.
func Fit(model string, X [][]float32, labels []string, opts Options) (*Classifier, error) {
	if len(X) != len(labels) {
		return nil, fmt.Errorf("classify: %d examples but %d labels", len(X), len(labels))
	}
	names := uniqueSorted(labels)
	index := make(map[string]int, len(names))
	for i, s := range names {
		index[s] = i
	}
	y := make([]int, len(labels))
	for i, s := range labels {
		y[i] = index[s]
	}
	m, err := Train(X, y, len(names), opts)
	if err != nil {
		return nil, err
	}
	return &Classifier{Version: FormatVersion, Model: model, Dim: len(X[0]), Labels: names, C: opts.C,
		ClassWeight: opts.ClassWeight, Iterations: m.Iterations, Converged: m.Converged, TrainSize: len(X),
		Weights: m.W, Intercepts: m.B}, nil
}

func uniqueSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// Probabilities returns the class probabilities for one embedding, in the
// order of c.Labels.
func (c *Classifier) Probabilities(x []float32) ([]float64, error) {
	if len(x) != c.Dim {
		return nil, fmt.Errorf("classify: embedding has %d values, classifier expects %d (model %s)", len(x), c.Dim, c.Model)
	}
	m := Model{W: c.Weights, B: c.Intercepts}
	return m.Probabilities(x), nil
}

// Predict returns the index of the most probable label and the
// probabilities.
func (c *Classifier) Predict(x []float32) (int, []float64, error) {
	p, err := c.Probabilities(x)
	if err != nil {
		return -1, nil, err
	}
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best, p, nil
}

// Save writes the classifier as JSON, atomically.
func (c *Classifier) Save(path string) error {
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return fmt.Errorf("classify: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		// Name the output, not the temporary file beside it.
		var pe *fs.PathError
		if errors.As(err, &pe) && strings.Contains(filepath.Base(pe.Path), ".tmp-") {
			return fmt.Errorf("classify: cannot write %s: %w", path, pe.Err)
		}
		return fmt.Errorf("classify: %w", err)
	}
	return nil
}

// Load reads a classifier saved by Save and checks its consistency.
func Load(path string) (*Classifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("classify: %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a saved classifier.
func Parse(b []byte) (*Classifier, error) {
	var c Classifier
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not a classifier file: %w", err)
	}
	if c.Version != FormatVersion {
		return nil, fmt.Errorf("version %d, want %d", c.Version, FormatVersion)
	}
	k := len(c.Labels)
	if k < 2 {
		return nil, fmt.Errorf("%d labels, want at least 2", k)
	}
	if c.Dim <= 0 {
		return nil, fmt.Errorf("dim = %d", c.Dim)
	}
	if len(c.Weights) != k || len(c.Intercepts) != k {
		return nil, fmt.Errorf("%d weight rows and %d intercepts for %d labels", len(c.Weights), len(c.Intercepts), k)
	}
	for i, w := range c.Weights {
		if len(w) != c.Dim {
			return nil, fmt.Errorf("weight row %d has %d values, want dim %d", i, len(w), c.Dim)
		}
		for _, v := range w {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("weight row %d holds %v", i, v)
			}
		}
	}
	if c.Model == "" {
		return nil, fmt.Errorf("no embedding model recorded")
	}
	return &c, nil
}
