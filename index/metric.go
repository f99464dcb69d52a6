package index

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Metric is the distance an index ranks by. Smaller distances are nearer.
type Metric string

// The metrics, with hnswlib's space names in brackets.
const (
	// Cosine distance 1 − cos(a, b) ('cosine'). Vectors are L2-normalised
	// once when added (and queries when searched), so the distance is
	// 1 − a·b on the stored unit vectors; zero vectors are rejected.
	Cosine Metric = "cosine"
	// Dot is the inner-product "distance" 1 − a·b ('ip'), on vectors as given.
	Dot Metric = "dot"
	// L2 is the squared Euclidean distance ('l2'), not its square root.
	L2 Metric = "l2"
)

// ParseMetric maps a metric name to a Metric. It accepts hnswlib's spellings
// too ("ip" for dot, "euclidean" for l2, "angular" for cosine). An unknown
// name is an *OptionError for the field Metric.
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "cosine", "angular", "cos":
		return Cosine, nil
	case "dot", "ip", "inner_product":
		return Dot, nil
	case "l2", "euclidean":
		return L2, nil
	}
	return "", &OptionError{Field: "Metric", Value: fmt.Sprintf("%q", s), Allowed: "cosine, dot or l2", unknown: true}
}

// checkFinite returns an error naming the first NaN or infinite value of v,
// described by what (e.g. "vector 3").
func checkFinite(v []float32, what string) error {
	for j, x := range v {
		if x != x || math.IsInf(float64(x), 0) {
			return fmt.Errorf("index: %s has %v at column %d", what, x, j)
		}
	}
	return nil
}

// normalize scales v to unit length in place. It leaves a zero vector as
// it is and reports it with an error.
func normalize(v []float32, what string) error {
	n := kernels.Dot(v, v)
	if n == 0 {
		return fmt.Errorf("index: %s is all zeros: cosine distance needs a nonzero vector", what)
	}
	if n != 1 {
		kernels.Scale(float32(1/math.Sqrt(float64(n))), v)
	}
	return nil
}
