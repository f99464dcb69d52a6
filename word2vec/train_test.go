package word2vec

import (
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// topicCorpus writes sentences whose words come from one of four topics
// (10 words each), so words of a topic share contexts.
func topicCorpus(t testing.TB, dir string, sentences int) string {
	return topicCorpusWords(t, dir, sentences, 10)
}

// topicCorpusWords is topicCorpus with perTopic words in each topic.
func topicCorpusWords(t testing.TB, dir string, sentences, perTopic int) string {
	t.Helper()
	r := mrand.New(mrand.NewPCG(1, 2))
	var b strings.Builder
	for s := 0; s < sentences; s++ {
		topic := r.IntN(4)
		n := 5 + r.IntN(20)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "t%dw%d", topic, r.IntN(perTopic))
		}
		b.WriteByte('\n')
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// topicSeparation returns mean within-topic minus mean across-topic cosine.
func topicSeparation(v *Vectors) float64 {
	var in, out float64
	var nin, nout int
	for i, a := range v.Words {
		for j, b := range v.Words {
			if i >= j {
				continue
			}
			s, _ := v.Similarity(a, b)
			if a[:2] == b[:2] {
				in += s
				nin++
			} else {
				out += s
				nout++
			}
		}
	}
	return in/float64(nin) - out/float64(nout)
}

// TestTrainLearnsTopics checks that every architecture separates the topics.
// The cases run on one thread, so each is deterministic for its seed: with two
// threads a 40-word vocabulary makes every update collide (Hogwild's lost
// updates), and sg-ns's separation then varies from run to run (0.17–0.48).
// The two-thread case learns the same topics over 200 words, where collisions
// are rare (separation 0.62–0.63 against 0.66 on one thread).
func TestTrainLearnsTopics(t *testing.T) {
	dir := t.TempDir()
	corpus := topicCorpus(t, dir, 3000)
	wide := topicCorpusWords(t, filepath.Join(dir, "wide"), 3000, 50)
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"sg-ns", with(func(o *Options) { o.SkipGram = true })},
		{"cbow-ns", with(nil)},
		{"sg-hs", with(func(o *Options) { o.SkipGram, o.HS, o.Negative = true, true, 0 })},
		{"cbow-hs+ns", with(func(o *Options) { o.HS = true })},
		{"cbow-sum", with(func(o *Options) { o.CBOWSum, o.Alpha = true, 0.01 })},
		{"sg-ns-threads", with(func(o *Options) { o.SkipGram, o.Corpus, o.Threads = true, wide, testThreads() })},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.opt
			if o.Corpus == "" {
				o.Corpus, o.Threads = corpus, 1
			}
			o.Dim, o.MinCount, o.Sample = 16, 1, 0
			v, st, err := Train(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			words := 40
			if o.Corpus == wide {
				words = 200
			}
			if v.Len() != words || st.Vocab != words || st.CorpusWords == 0 {
				t.Fatalf("vocab %d, stats %+v", v.Len(), st)
			}
			if sep := topicSeparation(v); sep < 0.3 {
				t.Errorf("within-topic minus across-topic cosine = %.3f, want > 0.3", sep)
			}
			for _, x := range v.Data {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatal("non-finite vector value")
				}
			}
		})
	}
}

// with returns DefaultOptions("") changed by f (if not nil).
func with(f func(*Options)) Options {
	o := DefaultOptions("")
	if f != nil {
		f(&o)
	}
	return o
}

// testThreads is 2, or 1 under the race detector.
func testThreads() int {
	if raceEnabled {
		return 1
	}
	return 2
}

func TestTrainDeterministic(t *testing.T) {
	corpus := topicCorpus(t, t.TempDir(), 500)
	train := func(seed uint64) *Vectors {
		v, _, err := Train(context.Background(), with(func(o *Options) {
			o.Corpus, o.SkipGram, o.Dim, o.MinCount, o.Threads, o.Seed, o.Epochs = corpus, true, 8, 1, 1, seed, 2
		}))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b, c := train(3), train(3), train(4)
	same := func(x, y *Vectors) bool {
		for i := range x.Data {
			if x.Data[i] != y.Data[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("two runs with one thread and the same seed differ")
	}
	if same(a, c) {
		t.Error("different seeds gave identical vectors")
	}
}

func TestTrainDirectoryAndLongLines(t *testing.T) {
	dir := t.TempDir()
	// One file without a final newline, one long line that must be split
	// into sentences of MaxSentenceLength tokens, one hidden file ignored.
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x y z x y z\nx y"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte(strings.Repeat("x y z ", 3000)), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("hidden hidden hidden"), 0o644)
	v, st, err := Train(context.Background(), with(func(o *Options) {
		o.Corpus, o.MinCount, o.Dim, o.Epochs, o.MaxSentenceLength, o.Threads = dir, 1, 4, 1, 100, testThreads()
	}))
	if err != nil {
		t.Fatal(err)
	}
	if st.CorpusWords != 8+9000 || v.Len() != 3 {
		t.Fatalf("corpus words %d vocab %v, want 9008 words and x y z", st.CorpusWords, v.Words)
	}
}

func TestVocabularyOrderAndSampling(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.txt")
	os.WriteFile(p, []byte("b a c a\nd c a b e\n"), 0o644)
	voc, err := scanVocab(context.Background(), []string{p}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// a:3, then b and c with 2 each in first-seen order; d, e dropped.
	if got := strings.Join(voc.words, " "); got != "a b c" || voc.rawWords != 9 || voc.retained != 7 {
		t.Fatalf("vocab %q raw %d retained %d", got, voc.rawWords, voc.retained)
	}
	voc.setSampling(0.1)
	// gensim: threshold 0.1·7 = 0.7; p(a) = (sqrt(3/0.7)+1)·0.7/3.
	pa := (math.Sqrt(3/0.7) + 1) * 0.7 / 3
	if got := float64(voc.sampleInt[0]) / (1<<32 - 1); math.Abs(got-pa) > 1e-9 {
		t.Fatalf("keep probability of a = %v, want %v", got, pa)
	}
	voc.setSampling(0)
	if voc.sampleInt[0] != 1<<32 {
		t.Fatal("no subsampling must keep every word")
	}
}

func TestAliasTable(t *testing.T) {
	counts := []int64{1000, 300, 50, 7, 1}
	tab := newAliasTable(counts, 0.75)
	r := newRand(9)
	hist := make([]float64, len(counts))
	const n = 400000
	for i := 0; i < n; i++ {
		hist[tab.sample(r.next())]++
	}
	var z float64
	for _, c := range counts {
		z += math.Pow(float64(c), 0.75)
	}
	for i, c := range counts {
		want := math.Pow(float64(c), 0.75) / z
		if got := hist[i] / n; math.Abs(got-want) > 0.005 {
			t.Errorf("word %d drawn %.4f of the time, want %.4f", i, got, want)
		}
	}
}

func TestHuffman(t *testing.T) {
	v := &vocabulary{counts: []int64{50, 20, 20, 5, 3, 1}}
	v.buildHuffman()
	seen := map[string]bool{}
	for w, c := range v.codes {
		code := fmt.Sprint(c)
		if seen[code] {
			t.Fatalf("duplicate code %v", c)
		}
		seen[code] = true
		if len(c) != len(v.points[w]) || v.points[w][0] != int32(len(v.counts)-2) {
			t.Fatalf("word %d: code %v points %v (root must be node %d)", w, c, v.points[w], len(v.counts)-2)
		}
		if w > 0 && len(c) < len(v.codes[0]) {
			t.Fatalf("rarer word %d has a shorter code than the most frequent", w)
		}
	}
	// Prefix-free: no code is a prefix of another.
	for a := range v.codes {
		for b := range v.codes {
			if a != b && len(v.codes[a]) < len(v.codes[b]) && fmt.Sprint(v.codes[b][:len(v.codes[a])]) == fmt.Sprint(v.codes[a]) {
				t.Fatalf("code %v is a prefix of %v", v.codes[a], v.codes[b])
			}
		}
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("\n  \n"), 0o644)
	rare := filepath.Join(dir, "rare.txt")
	os.WriteFile(rare, []byte("a b c\nd e\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "nothing"), 0o755)
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{DefaultOptions(empty), "empty.txt is empty"},
		{DefaultOptions(rare), "no word in corpus"},
		{DefaultOptions(filepath.Join(dir, "missing.txt")), "missing.txt"},
		{DefaultOptions(filepath.Join(dir, "nothing")), "has no files"},
		{DefaultOptions(""), "no corpus"},
		{with(func(o *Options) { o.Corpus, o.Negative = rare, 0 }), "negative 0, want > 0 without hierarchical softmax (nothing to train)"},
		{with(func(o *Options) { o.Corpus, o.Negative = rare, -1 }), "negative -1, want >= 0"},
		{with(func(o *Options) { o.Corpus, o.Dim = rare, 0 }), "word2vec: size 0, want 1..65536"},
		{with(func(o *Options) { o.Corpus, o.Window = rare, 0 }), "window 0, want > 0"},
		{with(func(o *Options) { o.Corpus, o.Epochs = rare, 0 }), "epochs 0, want > 0"},
		{with(func(o *Options) { o.Corpus, o.Threads = rare, -1 }), "threads -1"},
		{with(func(o *Options) { o.Corpus, o.Sample = rare, -1 }), "sample -1, want >= 0"},
		{with(func(o *Options) { o.Corpus, o.MinCount = rare, -1 }), "min-count -1"},
		{with(func(o *Options) { o.Corpus, o.MinAlpha = rare, math.NaN() }), "min-alpha NaN, want >= 0"},
		{with(func(o *Options) { o.Corpus, o.GlobalContext = rare, true }), "global-context true, want false with CBOW"},
		{Options{Corpus: rare}, "size 0, want 1..65536"}, // the zero value is not "defaults"
	} {
		_, _, err := Train(context.Background(), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
}

// TestOptionError: a bad option is a *OptionError naming the field, the
// value and what is allowed, for surfaces to map to their own names.
func TestOptionError(t *testing.T) {
	_, _, err := Train(context.Background(), with(func(o *Options) { o.Corpus, o.Window = "c.txt", -2 }))
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Field != "Window" || oe.Value != -2 || oe.Allowed != "> 0" {
		t.Fatalf("error %#v (%v), want an OptionError for Window -2", oe, err)
	}
	// WholeSentence does not use Window.
	o := with(func(o *Options) { o.Window, o.WholeSentence = 0, true })
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
}

func TestTrainCancel(t *testing.T) {
	corpus := topicCorpus(t, t.TempDir(), 2000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Train(ctx, with(func(o *Options) { o.Corpus, o.MinCount, o.Epochs, o.Threads = corpus, 1, 50, testThreads() })); err == nil {
		t.Fatal("cancelled training returned no error")
	}
}

func TestProgressReported(t *testing.T) {
	corpus := topicCorpus(t, t.TempDir(), 200)
	var last, total int64
	_, st, err := Train(context.Background(), with(func(o *Options) {
		o.Corpus, o.MinCount, o.Dim, o.Threads = corpus, 1, 4, testThreads()
		o.Progress = func(d, t int64) { last, total = d, t }
	}))
	if err != nil {
		t.Fatal(err)
	}
	if total != st.CorpusWords*5 || last != total {
		t.Fatalf("progress ended at %d of %d, want %d", last, total, st.CorpusWords*5)
	}
}

// TestZeroMeansZero: 0 keeps gensim's meaning (sample 0: no subsampling,
// negative 0: pure hierarchical softmax, min-count 0: every word) instead
// of being replaced by a default.
func TestZeroMeansZero(t *testing.T) {
	o := DefaultOptions("c.txt")
	o.Sample, o.Negative, o.HS, o.MinCount = 0, 0, true, 0
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	if o.Sample != 0 || o.Negative != 0 || o.MinCount != 0 {
		t.Fatalf("check replaced zero values: sample %v negative %d min-count %d", o.Sample, o.Negative, o.MinCount)
	}
	dir := t.TempDir()
	rare := filepath.Join(dir, "rare.txt")
	os.WriteFile(rare, []byte("a b c\nd e\n"), 0o644)
	o = with(func(o *Options) {
		o.Corpus, o.MinCount, o.Sample, o.Negative, o.HS, o.Dim, o.Threads = rare, 0, 0, 0, true, 4, 1
	})
	v, _, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 5 {
		t.Fatalf("min-count 0 kept %v, want all 5 words", v.Words)
	}
	// With sample 0 every word is always kept.
	voc := &vocabulary{words: []string{"a", "b"}, counts: []int64{1000000, 1}, retained: 1000001}
	voc.setSampling(0)
	for i, p := range voc.sampleInt {
		if p != 1<<32 {
			t.Errorf("sample 0: word %d kept with threshold %d, want always", i, p)
		}
	}
}

// TestDirectoryCorpusSkipsBinaryFiles: files with NUL bytes in a directory
// corpus are skipped and reported.
func TestDirectoryCorpusSkipsBinaryFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x y z x y z\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.bin"), []byte("q\x00r s t\n"), 0o644)
	v, st, err := Train(context.Background(), with(func(o *Options) { o.Corpus, o.MinCount, o.Dim, o.Epochs, o.Threads = dir, 1, 4, 1, 1 }))
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 3 || st.CorpusWords != 6 {
		t.Fatalf("vocab %v, %d corpus words: want x y z from a.txt only", v.Words, st.CorpusWords)
	}
	if len(st.SkippedFiles) != 1 || !strings.HasSuffix(st.SkippedFiles[0], "c.bin") {
		t.Fatalf("skipped files %v, want [.../c.bin]", st.SkippedFiles)
	}
}

// topicSentences is topicCorpus held in memory.
func topicSentences(sentences, perTopic int) [][]string {
	r := mrand.New(mrand.NewPCG(1, 2))
	out := make([][]string, sentences)
	for s := range out {
		topic := r.IntN(4)
		n := 5 + r.IntN(20)
		for range n {
			out[s] = append(out[s], fmt.Sprintf("t%dw%d", topic, r.IntN(perTopic)))
		}
	}
	return out
}

// TestTrainSentences: the in-memory corpus with item2vec's options (whole
// sentence as context, global context, in-group negatives) learns the
// topics, counts its pairs exactly, and is deterministic on one thread.
func TestTrainSentences(t *testing.T) {
	sents := topicSentences(1500, 10)
	groups := map[string]string{}
	for topic := range 4 {
		for w := range 10 {
			groups[fmt.Sprintf("t%dw%d", topic, w)] = fmt.Sprint(topic % 2) // two topics per group
		}
	}
	var wantPairs int64
	for _, s := range sents {
		wantPairs += int64(len(s) * (len(s) - 1))
	}
	for _, c := range []struct {
		name  string
		f     func(o *Options)
		pairs int64
	}{
		{"whole-sentence", func(o *Options) { o.WholeSentence = true }, wantPairs},
		{"window+global", func(o *Options) { o.Window, o.GlobalContext = 3, true }, 0},
		{"whole+global+groups", func(o *Options) { o.WholeSentence, o.GlobalContext, o.Groups = true, true, groups }, wantPairs},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := with(func(o *Options) {
				o.SkipGram, o.Dim, o.MinCount, o.Sample, o.Threads, o.Epochs, o.Seed = true, 16, 1, 0, 1, 3, 7
				c.f(o)
			})
			v, st, err := TrainSentences(context.Background(), sents, o)
			if err != nil {
				t.Fatal(err)
			}
			if v.Len() != 40 {
				t.Fatalf("vocab %d, want 40", v.Len())
			}
			if c.pairs > 0 && st.Pairs != c.pairs*int64(o.Epochs) {
				t.Errorf("%d pairs, want %d", st.Pairs, c.pairs*int64(o.Epochs))
			}
			if sep := topicSeparation(v); sep < 0.3 {
				t.Errorf("within-topic minus across-topic cosine = %.3f, want > 0.3", sep)
			}
			v2, _, _ := TrainSentences(context.Background(), sents, o)
			for i := range v.Data {
				if v.Data[i] != v2.Data[i] {
					t.Fatal("one thread, same seed: different vectors")
				}
			}
		})
	}
	_, _, err := TrainSentences(context.Background(), [][]string{{"a"}, {"b"}, {"a", "c"}}, with(func(o *Options) { o.MinCount = 2 }))
	if !errors.Is(err, ErrNothingToLearn) {
		t.Errorf("error %v, want ErrNothingToLearn", err)
	}
}

// TestGroupNoise: in-group noise words come from the group only, by
// count^0.75 among its members.
func TestGroupNoise(t *testing.T) {
	v := &vocabulary{words: []string{"a", "b", "c", "d", "e"}, counts: []int64{100, 50, 20, 10, 5}}
	g := newGroupNoise(v, map[string]string{"a": "x", "c": "x", "b": "y", "e": "y"}, 0.75)
	if got := fmt.Sprint(g.of); got != "[0 1 0 -1 1]" {
		t.Fatalf("groups %s", got)
	}
	r := newRand(3)
	hist := map[int32]float64{}
	const n = 200000
	for range n {
		hist[g.sample(0, r.next())]++
	}
	pa := math.Pow(100, 0.75) / (math.Pow(100, 0.75) + math.Pow(20, 0.75))
	if len(hist) != 2 || math.Abs(hist[0]/n-pa) > 0.005 {
		t.Errorf("group x drew %v, want a (%.3f) and c only", hist, pa)
	}
}
