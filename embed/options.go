package embed

import (
	"fmt"

	"github.com/loupe-ml/loupe/model/bert"
)

// OptionError reports an option value that is out of range: the option's
// field name (as in the Go struct: "BatchSize"), the value given and what
// is allowed. Surfaces map Field to their own flag or JSON names.
type OptionError struct {
	Field   string
	Value   any
	Allowed string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s %v: want %s", e.Field, e.Value, e.Allowed)
}

// Quantize values accepted by Options.Quantize.
var quantizeValues = []string{"", "float32", bert.Int8, bert.Int7}

// Validate checks the options, returning an *OptionError for the first
// value out of range. Zero values mean the defaults and are valid.
func (o Options) Validate() error {
	ok := false
	for _, q := range quantizeValues {
		ok = ok || o.Quantize == q
	}
	switch {
	case !ok:
		return &OptionError{Field: "Quantize", Value: fmt.Sprintf("%q", o.Quantize), Allowed: "float32, int8 or int7 (compute precision of the encoder; default float32)"}
	case o.BatchSize < 0:
		return &OptionError{Field: "BatchSize", Value: o.BatchSize, Allowed: fmt.Sprintf("a positive number (0: the default, %d)", DefaultBatchSize)}
	case o.MaxSeqLength < 0:
		return &OptionError{Field: "MaxSeqLength", Value: o.MaxSeqLength, Allowed: "0 or more (0: the model's max_seq_length)"}
	}
	return nil
}
