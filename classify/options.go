package classify

import (
	"fmt"
	"math"
)

// Options control Train and Fit. Every field means what it says, zero
// included (C = 0 is an error, as in scikit-learn, not a default): start
// from DefaultOptions and change what you need.
type Options struct {
	C           float64 // inverse regularisation strength, > 0 (default 1)
	ClassWeight string  // "" or "none" (all 1), or "balanced"
	MaxIter     int     // L-BFGS iterations, > 0 (default 1000)
	Tol         float64 // stop when max |gradient| / Σ weights < Tol, > 0 (default 1e-6)
}

// DefaultOptions returns scikit-learn's LogisticRegression defaults (C = 1,
// no class weights) with this package's tolerance and iteration cap.
func DefaultOptions() Options { return Options{C: 1, MaxIter: 1000, Tol: 1e-6} }

// OptionError reports an Options field whose value means nothing: the
// field (as named in the Go struct: "C", "MaxIter"), the value given and
// what is allowed. Surfaces map Field to their own flag or JSON names.
type OptionError struct {
	Field   string
	Value   any
	Allowed string
}

// optionNames describe the fields in messages.
var optionNames = map[string]string{
	"C": "C (inverse regularisation strength)", "MaxIter": "iteration limit", "Tol": "tolerance", "ClassWeight": "class weight",
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("classify: %s %v: want %s", optionNames[e.Field], e.Value, e.Allowed)
}

// Validate checks o (Train and Fit call it), returning an *OptionError for
// the first value out of range.
func (o Options) Validate() error {
	switch {
	case !(o.C > 0) || math.IsInf(o.C, 0):
		return &OptionError{Field: "C", Value: o.C, Allowed: "a positive number (as scikit-learn's C)"}
	case o.MaxIter <= 0:
		return &OptionError{Field: "MaxIter", Value: o.MaxIter, Allowed: "a positive number"}
	case !(o.Tol > 0) || math.IsInf(o.Tol, 0):
		return &OptionError{Field: "Tol", Value: o.Tol, Allowed: "a positive number"}
	}
	switch o.ClassWeight {
	case "", "none", "balanced":
		return nil
	}
	return &OptionError{Field: "ClassWeight", Value: fmt.Sprintf("%q", o.ClassWeight), Allowed: "balanced or none"}
}
