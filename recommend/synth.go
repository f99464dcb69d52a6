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

// SynthOptions describes a synthetic catalogue and its sessions. Zero
// values mean the defaults in brackets; negative values are errors.
type SynthOptions struct {
	Items    int     // catalogue size [1000]
	Groups   int     // latent groups; item i belongs to group i mod Groups [25]
	Markets  int     // markets; group g is in market g mod Markets [5]
	Sessions int     // sessions to draw [20000]
	MinLen   int     // shortest session [3]
	MaxLen   int     // longest session [12]
	Noise    float64 // probability that an item comes from anywhere [0.1]
	Seed     uint64
}

// Synthetic is a generated data set with its ground truth.
type Synthetic struct {
	Sessions [][]string
	// Group and Market of every item id.
	Group, Market map[string]int
}

// Synthesize draws sessions with a known structure: each session picks a
// group, then items of that group (popular ones more often: Zipf-like
// weights within the group, and groups themselves Zipf-like), except that
// with probability Noise an item is drawn from the whole catalogue. Item ids
// are "i0", "i1", ….
func Synthesize(opt SynthOptions) (*Synthetic, error) {
	for _, f := range []struct {
		field, name string
		v           int
	}{{"Items", "items", opt.Items}, {"Groups", "groups", opt.Groups}, {"Markets", "markets", opt.Markets}, {"Sessions", "sessions", opt.Sessions}, {"MinLen", "min length", opt.MinLen}, {"MaxLen", "max length", opt.MaxLen}} {
		if f.v < 0 {
			return nil, fmt.Errorf("recommend: %w", &word2vec.OptionError{Field: f.field, Name: f.name, Value: f.v, Allowed: "> 0 (0: the default)"})
		}
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&opt.Items, 1000)
	def(&opt.Groups, 25)
	def(&opt.Markets, 5)
	def(&opt.Sessions, 20000)
	def(&opt.MinLen, 3)
	def(&opt.MaxLen, 12)
	if !(opt.Noise >= 0 && opt.Noise <= 1) {
		return nil, fmt.Errorf("recommend: %w", &word2vec.OptionError{Field: "Noise", Name: "noise", Value: opt.Noise, Allowed: "a probability in [0, 1]"})
	}
	if opt.Groups > opt.Items || opt.MaxLen < opt.MinLen {
		return nil, fmt.Errorf("recommend: want groups <= items and min length <= max length")
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
	return s, nil
}

// WriteDir writes the data set into dir (created if needed) as the files
// the recommend tools read: train.txt and test.txt (one session per line,
// the last testFraction of the sessions in test.txt), and markets.tsv and
// groups.tsv ("i7<TAB>m2", "i7<TAB>g7" lines; markets.tsv is what
// ReadMarkets reads). Each file is written atomically. It returns the
// numbers of training and test sessions.
func (s *Synthetic) WriteDir(dir string, testFraction float64) (train, test int, err error) {
	if !(testFraction >= 0 && testFraction < 1) {
		return 0, 0, fmt.Errorf("recommend: %w", &word2vec.OptionError{Field: "TestFraction", Name: "test fraction", Value: testFraction, Allowed: "a fraction in [0, 1)"})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("recommend: %w", err)
	}
	cut := len(s.Sessions) - int(float64(len(s.Sessions))*testFraction)
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
			return 0, 0, fmt.Errorf("recommend: %w", err)
		}
	}
	return cut, len(s.Sessions) - cut, nil
}
