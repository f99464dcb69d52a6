package recommend

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/word2vec"
)

// SynthOptions describes a synthetic catalogue and its sessions. Start
// from DefaultSynthOptions (its values in brackets); every field means what
// it says, and a value that means nothing is a *word2vec.OptionError
// naming the field.
type SynthOptions struct {
	Items    int     // catalogue size [1000; > 0]
	Groups   int     // latent groups; item i belongs to group i mod Groups [25; 1..Items]
	Markets  int     // markets; group g is in market g mod Markets [5; > 0]
	Sessions int     // sessions to draw [20000; > 0]
	MinLen   int     // shortest session [3; > 0]
	MaxLen   int     // longest session [12; >= MinLen]
	Noise    float64 // probability that an item comes from anywhere [0.1; 0..1]
	// TestFraction is the fraction of the sessions, the last ones, held
	// out for testing [0.2; in [0, 1)].
	TestFraction float64
	Seed         uint64 // [1]
}

// DefaultSynthOptions returns the defaults of loupe recommend synth.
func DefaultSynthOptions() SynthOptions {
	return SynthOptions{Items: 1000, Groups: 25, Markets: 5, Sessions: 20000, MinLen: 3, MaxLen: 12, Noise: 0.1, TestFraction: 0.2, Seed: 1}
}

// check validates o, the one place that does.
func (o SynthOptions) check() error {
	bad := func(field, name string, v any, allowed string) error {
		return wrap(&word2vec.OptionError{Field: field, Name: name, Value: v, Allowed: allowed})
	}
	for _, f := range []struct {
		field, name string
		v           int
	}{{"Items", "items", o.Items}, {"Groups", "groups", o.Groups}, {"Markets", "markets", o.Markets}, {"Sessions", "sessions", o.Sessions}, {"MinLen", "min length", o.MinLen}} {
		if f.v <= 0 {
			return bad(f.field, f.name, f.v, "> 0")
		}
	}
	switch {
	case o.Groups > o.Items:
		return bad("Groups", "groups", o.Groups, fmt.Sprintf("<= items (%d)", o.Items))
	case o.MaxLen < o.MinLen:
		return bad("MaxLen", "max length", o.MaxLen, fmt.Sprintf(">= min length (%d)", o.MinLen))
	case !(o.Noise >= 0 && o.Noise <= 1):
		return bad("Noise", "noise", o.Noise, "a probability in [0, 1]")
	case !(o.TestFraction >= 0 && o.TestFraction < 1):
		return bad("TestFraction", "test fraction", o.TestFraction, "a fraction in [0, 1)")
	}
	return nil
}

// Synthetic is a generated data set with its ground truth.
type Synthetic struct {
	Sessions [][]string
	// Test is the number of sessions, the last ones, held out for testing
	// (SynthOptions.TestFraction of them).
	Test int
	// Group and Market of every item id.
	Group, Market map[string]int
}

// Synthesize draws sessions with a known structure: each session picks a
// group, then items of that group (popular ones more often: Zipf-like
// weights within the group, and groups themselves Zipf-like), except that
// with probability Noise an item is drawn from the whole catalogue. Item ids
// are "i0", "i1", ….
func Synthesize(opt SynthOptions) (*Synthetic, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	r := mrand.New(mrand.NewPCG(opt.Seed, 0x5eed))
	members := make([][]int, opt.Groups)
	s := &Synthetic{Group: map[string]int{}, Market: map[string]int{}}
	for i := 0; i < opt.Items; i++ {
		g := i % opt.Groups
		members[g] = append(members[g], i)
		id := fmt.Sprintf("i%d", i)
		s.Group[id] = g
		s.Market[id] = g % opt.Markets
	}
	zipf := func(n int) []float64 { // cumulative 1/(k+1) weights
		c := make([]float64, n)
		sum := 0.0
		for k := range c {
			sum += 1 / math.Sqrt(float64(k+1))
			c[k] = sum
		}
		for k := range c {
			c[k] /= sum
		}
		return c
	}
	pick := func(cum []float64) int {
		x := r.Float64()
		lo, hi := 0, len(cum)-1
		for lo < hi {
			m := (lo + hi) / 2
			if cum[m] < x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo
	}
	groupCum := zipf(opt.Groups)
	memberCum := make([][]float64, opt.Groups)
	for g := range members {
		memberCum[g] = zipf(len(members[g]))
	}
	for n := 0; n < opt.Sessions; n++ {
		g := pick(groupCum)
		l := opt.MinLen + r.IntN(opt.MaxLen-opt.MinLen+1)
		sess := make([]string, l)
		for k := range sess {
			item := members[g][pick(memberCum[g])]
			if r.Float64() < opt.Noise {
				item = r.IntN(opt.Items)
			}
			sess[k] = fmt.Sprintf("i%d", item)
		}
		s.Sessions = append(s.Sessions, sess)
	}
	s.Test = int(float64(opt.Sessions) * opt.TestFraction)
	return s, nil
}

// WriteDir writes the data set into dir (created if needed) as the files
// the recommend tools read: train.txt and test.txt (one session per line,
// the last s.Test sessions in test.txt), and markets.tsv and groups.tsv
// ("i7<TAB>m2", "i7<TAB>g7" lines; markets.tsv is what ReadMarkets reads).
// Each file is written atomically. It returns the numbers of training and
// test sessions.
func (s *Synthetic) WriteDir(dir string) (train, test int, err error) {
	if s.Test < 0 || s.Test > len(s.Sessions) {
		return 0, 0, fmt.Errorf("recommend: %d test sessions of %d", s.Test, len(s.Sessions))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("recommend: %w", err)
	}
	cut := len(s.Sessions) - s.Test
	join := func(ss [][]string) []string {
		out := make([]string, len(ss))
		for i, x := range ss {
			out[i] = strings.Join(x, " ")
		}
		return out
	}
	var markets, groups []string
	for i := range len(s.Group) {
		id := fmt.Sprintf("i%d", i)
		markets = append(markets, fmt.Sprintf("%s\tm%d", id, s.Market[id]))
		groups = append(groups, fmt.Sprintf("%s\tg%d", id, s.Group[id]))
	}
	for _, f := range []struct {
		name  string
		lines []string
	}{{"train.txt", join(s.Sessions[:cut])}, {"test.txt", join(s.Sessions[cut:])}, {"markets.tsv", markets}, {"groups.tsv", groups}} {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), []byte(strings.Join(f.lines, "\n")+"\n")); err != nil {
			return 0, 0, wrap(err)
		}
	}
	return cut, len(s.Sessions) - cut, nil
}
