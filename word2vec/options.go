package word2vec

import (
	"fmt"
	"math"
	"runtime"
)

// Options configures Train. Every field means what it says, zero included
// (Sample 0 disables subsampling, Negative 0 disables negative sampling,
// MinCount 0 keeps every word), as in gensim and the C tool: start from
// DefaultOptions to get gensim's defaults, then change what you need. The
// only "unset" value is Threads = 0, which means GOMAXPROCS.
type Options struct {
	// Corpus is a text file, or a directory whose files (recursively, not
	// hidden ones, not ones that contain NUL bytes) are read in name order.
	Corpus string
	// SkipGram selects skip-gram; the default is CBOW (gensim's sg=0).
	SkipGram bool
	// Dim is the vector size (default 100; must be 1..65536).
	Dim int
	// Window is the maximum distance between a word and its context
	// (default 5; must be > 0); each position uses a window shrunk by a
	// random 0..Window-1.
	Window int
	// Negative is the number of noise words per positive example (default
	// 5); 0 disables negative sampling, which then needs HS.
	Negative int
	// HS adds hierarchical softmax over a Huffman tree.
	HS bool
	// Sample is the subsampling threshold for frequent words (default 1e-3);
	// 0 disables subsampling.
	Sample float64
	// MinCount drops words seen fewer times (default 5; 0 or 1 keeps every
	// word).
	MinCount int
	// Epochs is the number of passes over the corpus (default 5; must be > 0).
	Epochs int
	// Alpha is the initial learning rate (default 0.025 for both
	// architectures, as gensim; must be > 0); it falls linearly to MinAlpha
	// (default 0.0001) over Epochs × corpus words.
	Alpha, MinAlpha float64
	// CBOWSum uses the sum rather than the mean of the context vectors
	// (gensim's cbow_mean=0).
	CBOWSum bool
	// Threads is the number of training goroutines; 0 means GOMAXPROCS.
	Threads int
	// Seed seeds the random initial vectors and every thread's generator.
	// With Threads = 1 training is deterministic for a given Seed.
	Seed uint64
	// MaxSentenceLength splits longer lines (default 10000, as gensim; must
	// be > 0).
	MaxSentenceLength int
	// WholeSentence makes every word of a sentence a context of every
	// other, whatever their distance, instead of a window: item2vec's
	// sessions, whose order says little. Window is then not used.
	WholeSentence bool
	// GlobalContext adds the sentence's last word as a context of every
	// other word of the sentence, also outside the window: Airbnb's booked
	// listing (Grbovic and Cheng, KDD 2018). Skip-gram only.
	GlobalContext bool
	// Groups maps words to groups (Airbnb's markets). When set, half of the
	// noise words of an example whose predicted word has a group (Negative/2;
	// with Negative 1, the one noise word every other time on average) are
	// drawn from that group, by count^0.75 among its members, so that the
	// vectors also separate the words within a group.
	Groups map[string]string
	// Progress, if set, is called about five times a second and at the end
	// with the corpus words processed so far and the total (words × epochs).
	Progress func(done, total int64)
}

// DefaultOptions returns gensim's Word2Vec defaults for corpus: CBOW, size
// 100, window 5, negative 5, sample 1e-3, min-count 5, 5 epochs, alpha
// 0.025 → 0.0001, sentences of at most 10000 words, all CPUs.
func DefaultOptions(corpus string) Options {
	return Options{
		Corpus:            corpus,
		Dim:               100,
		Window:            5,
		Negative:          5,
		Sample:            1e-3,
		MinCount:          5,
		Epochs:            5,
		Alpha:             0.025,
		MinAlpha:          0.0001,
		MaxSentenceLength: 10000,
	}
}

// OptionError reports an Options field whose value means nothing. Its
// message names the option as the C tool and gensim do ("size", "window",
// "min-count"); Field is the Go field name, for a surface (a command-line
// flag, a JSON name) to map to its own. Train wraps it with the package
// prefix; errors.As finds it.
type OptionError struct {
	Field   string // the Options field: "Dim", "Window", "Negative", ...
	Value   any    // the value given
	Allowed string // what is allowed, e.g. "1..65536", "> 0", ">= 0 (0: all CPUs)"
	// Name is the option's name in the message ("size" for Dim); Field
	// when empty.
	Name string
}

// optionNames are the C tool's and gensim's names of the Options fields.
var optionNames = map[string]string{
	"Dim": "size", "Window": "window", "Negative": "negative", "Sample": "sample",
	"MinCount": "min-count", "Epochs": "epochs", "Alpha": "alpha", "MinAlpha": "min-alpha",
	"Threads": "threads", "MaxSentenceLength": "max-sentence-length", "GlobalContext": "global-context",
	"TopN": "topn", "Restrict": "restrict", "Delimiter": "delimiter",
}

// optionError returns an *OptionError for field, wrapped with the package
// prefix.
func optionError(field string, v any, allowed string) error {
	return fmt.Errorf("word2vec: %w", &OptionError{Field: field, Value: v, Allowed: allowed, Name: optionNames[field]})
}

func (e *OptionError) Error() string {
	name := e.Name
	if name == "" {
		name = e.Field
	}
	return fmt.Sprintf("%s %v, want %s", name, e.Value, e.Allowed)
}

// check validates o (the only place that does); it replaces nothing but
// Threads = 0.
func (o *Options) check() error {
	if o.Threads == 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case o.Dim <= 0 || o.Dim > 1<<16:
		return optionError("Dim", o.Dim, "1..65536")
	case o.Window <= 0 && !o.WholeSentence:
		return optionError("Window", o.Window, "> 0")
	case o.Negative < 0:
		return optionError("Negative", o.Negative, ">= 0 (0 disables negative sampling; then enable hierarchical softmax)")
	case o.Negative == 0 && !o.HS:
		return optionError("Negative", o.Negative, "> 0 without hierarchical softmax (nothing to train)")
	case o.Sample < 0 || !finite(o.Sample):
		return optionError("Sample", o.Sample, ">= 0 (0 disables subsampling)")
	case o.MinCount < 0:
		return optionError("MinCount", o.MinCount, ">= 0")
	case o.Epochs <= 0:
		return optionError("Epochs", o.Epochs, "> 0")
	case o.Threads < 0:
		return optionError("Threads", o.Threads, ">= 0 (0: all CPUs)")
	case !(o.Alpha > 0) || !finite(o.Alpha):
		return optionError("Alpha", o.Alpha, "> 0")
	case !(o.MinAlpha >= 0) || !finite(o.MinAlpha):
		return optionError("MinAlpha", o.MinAlpha, ">= 0")
	case o.MaxSentenceLength <= 0:
		return optionError("MaxSentenceLength", o.MaxSentenceLength, "> 0")
	case o.GlobalContext && !o.SkipGram:
		return optionError("GlobalContext", o.GlobalContext, "false with CBOW (a global context needs skip-gram)")
	}
	return nil
}
