package recommend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/loupe-ml/loupe/word2vec"
)

// Options configures Train. Every field means what it says, zero included
// (Window 0 is the whole session, MinCount 0 keeps every item, Threads 0
// uses GOMAXPROCS); start from DefaultOptions and change what you need.
// Values that mean nothing are errors (a *word2vec.OptionError naming the
// field), as in word2vec.
type Options struct {
	// Sessions is the training file: one session per line, item ids
	// separated by white space, in the order the user met them.
	Sessions string
	// Dim is the vector size (default 32).
	Dim int
	// Window is the context distance; 0 uses the whole session as every
	// item's context (item2vec; the default).
	Window int
	// Negative is the number of noise items per positive pair (default 5;
	// must be > 0).
	Negative int
	// Epochs over the sessions (default 10).
	Epochs int
	// MinCount drops items seen fewer times (default 1).
	MinCount int
	// Alpha is the initial learning rate, falling linearly to Alpha/1000
	// (default 0.025).
	Alpha float64
	// GlobalContext adds the session's last item as a positive context of
	// every other item of the session (Airbnb's booked listing).
	GlobalContext bool
	// Markets maps item → market; when set, half of the negatives of each
	// positive pair are drawn from the market of the positive item.
	Markets map[string]string
	// MarketsFile, when set, is an "item market" file (see ReadMarkets)
	// that Train and TrainSessions read into Markets; set one or the other.
	MarketsFile string
	// Threads is the number of training goroutines (0: GOMAXPROCS); with 1
	// the result is deterministic for a Seed.
	Threads int
	// Seed seeds the initial vectors and the samplers.
	Seed uint64
}

// DefaultOptions returns the defaults for a sessions file: 32 dimensions,
// the whole session as context, 5 negatives, 10 epochs, min-count 1, alpha
// 0.025, all CPUs, seed 1.
func DefaultOptions(sessions string) Options {
	return Options{Sessions: sessions, Dim: 32, Negative: 5, Epochs: 10, MinCount: 1, Alpha: 0.025, Seed: 1}
}

// Stats describes a training run.
type Stats struct {
	Seconds  float64 `json:"seconds"`
	Sessions int     `json:"sessions"`
	Events   int64   `json:"events"`
	Items    int     `json:"items"`
	// Pairs is the number of positive (item, context) pairs trained.
	Pairs int64 `json:"pairs"`
}

// ReadSessions reads a sessions file: one session per non-empty line, item
// ids separated by white space.
func ReadSessions(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for sc.Scan() {
		if items := strings.Fields(sc.Text()); len(items) > 0 {
			out = append(out, items)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recommend: sessions %s: %w", path, err)
	}
	return out, nil
}

// ReadMarkets reads an "item<TAB or space>market" file ('#' comments).
func ReadMarkets(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("recommend: markets %s line %d: %q: want \"item market\"", path, n, line)
		}
		if old, dup := m[f[0]]; dup && old != f[1] {
			return nil, fmt.Errorf("recommend: markets %s line %d: item %q in two markets (%q, %q)", path, n, f[0], old, f[1])
		}
		m[f[0]] = f[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recommend: markets %s: %w", path, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("recommend: markets %s is empty", path)
	}
	return m, nil
}

// Train reads opt.Sessions (and opt.MarketsFile, if set) and learns item
// vectors.
func Train(ctx context.Context, opt Options) (*Model, *Stats, error) {
	if opt.Sessions == "" {
		return nil, nil, errors.New("recommend: no sessions file given")
	}
	sessions, err := ReadSessions(opt.Sessions)
	if err != nil {
		return nil, nil, err
	}
	if len(sessions) == 0 {
		return nil, nil, fmt.Errorf("recommend: sessions file %s has no sessions", opt.Sessions)
	}
	return TrainSessions(ctx, sessions, opt)
}

// TrainSessions learns item vectors from sessions in memory (opt.Sessions
// is ignored). It is word2vec's skip-gram with negative sampling over
// sessions as sentences: no subsampling, the whole session (or a window)
// as context, and Airbnb's global context and in-market negatives as
// options of the same trainer.
func TrainSessions(ctx context.Context, sessions [][]string, opt Options) (*Model, *Stats, error) {
	if opt.MarketsFile != "" {
		if opt.Markets != nil {
			return nil, nil, wrap(&word2vec.OptionError{Field: "MarketsFile", Name: "markets file", Value: opt.MarketsFile, Allowed: "empty when Markets is set"})
		}
		m, err := ReadMarkets(opt.MarketsFile)
		if err != nil {
			return nil, nil, err
		}
		opt.Markets = m
	}
	o := word2vec.DefaultOptions("")
	o.SkipGram = true
	o.Dim, o.Negative, o.Epochs, o.MinCount = opt.Dim, opt.Negative, opt.Epochs, opt.MinCount
	o.Alpha, o.MinAlpha = opt.Alpha, opt.Alpha/1000
	o.Sample = 0
	o.Window, o.WholeSentence = opt.Window, opt.Window == 0
	o.GlobalContext, o.Groups = opt.GlobalContext, opt.Markets
	o.Threads, o.Seed = opt.Threads, opt.Seed
	vecs, st, err := word2vec.TrainSentences(ctx, sessions, o)
	var oe *word2vec.OptionError
	switch {
	case errors.Is(err, word2vec.ErrNothingToLearn):
		return nil, nil, errors.New("recommend: no session has two known items: nothing to learn from")
	case errors.As(err, &oe):
		// The same checks, in recommend's terms: no hierarchical softmax
		// here, and window 0 is the whole session.
		e := *oe
		switch e.Field {
		case "Window":
			e.Allowed = ">= 0 (0: the whole session)"
		case "Negative":
			e.Allowed = "> 0"
		}
		return nil, nil, wrap(&e)
	case err != nil:
		return nil, nil, wrap(err)
	}
	if vecs.Len() < 2 {
		return nil, nil, fmt.Errorf("recommend: %d items occur at least min-count=%d times; need at least 2", vecs.Len(), opt.MinCount)
	}
	return &Model{Vectors: vecs}, &Stats{
		Seconds:  st.Seconds,
		Sessions: len(sessions),
		Events:   st.CorpusWords,
		Items:    st.Vocab,
		Pairs:    st.Pairs,
	}, nil
}

// wrap gives err recommend's prefix in place of word2vec's (or in front of
// none), so that an error passed through from word2vec reads with one
// prefix ("recommend: word … not in vocabulary"); errors.Is and errors.As
// still see err.
func wrap(err error) error { return &prefixed{err} }

type prefixed struct{ err error }

func (e *prefixed) Error() string {
	return "recommend: " + strings.TrimPrefix(e.err.Error(), "word2vec: ")
}

func (e *prefixed) Unwrap() error { return e.err }
