package word2vec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Stats describes a finished training run.
type Stats struct {
	Seconds        float64 `json:"seconds"`
	WordsPerSecond float64 `json:"words_per_second"` // corpus words × epochs / Seconds
	Vocab          int     `json:"vocab"`
	CorpusWords    int64   `json:"corpus_words"` // tokens in one pass, known or not
	Epochs         int     `json:"epochs"`
	// VocabSeconds is the time of the counting pass (included in Seconds).
	VocabSeconds float64 `json:"vocab_seconds"`
	// Pairs is the number of positive examples trained: (context, word)
	// pairs for skip-gram, windows for CBOW.
	Pairs int64 `json:"pairs"`
	// SkippedFiles lists the files of a corpus directory left out because
	// they are not text (they contain NUL bytes).
	SkippedFiles []string `json:"skipped_files,omitempty"`
}

// The sigmoid comes from the C tool's table: 1000 values over [-6, 6].
const (
	maxExp       = 6
	expTableSize = 1000
)

var expTable = func() []float32 {
	t := make([]float32, expTableSize+1)
	for i := range t {
		e := math.Exp((float64(i)/expTableSize*2 - 1) * maxExp)
		t[i] = float32(e / (e + 1))
	}
	return t
}()

// model holds the matrices shared (without locks) by the training threads.
type model struct {
	opt     Options
	voc     *vocabulary
	dim     int
	syn0    []float32 // input vectors, the result
	syn1neg []float32 // output vectors for negative sampling
	syn1    []float32 // inner-node vectors for hierarchical softmax
	noise   *aliasTable
	groups  *groupNoise // nil unless Options.Groups is set

	totalWords int64        // corpus words × epochs
	done       atomic.Int64 // corpus words processed so far
	pairs      atomic.Int64 // positive examples trained
}

// Train learns word vectors from opt.Corpus. It reads the corpus once to
// count words and then once per epoch, never holding more than a few
// megabytes of it in memory.
func Train(ctx context.Context, opt Options) (*Vectors, *Stats, error) {
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	files, skipped, err := corpusFiles(opt.Corpus)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	voc, err := scanVocab(ctx, files, opt.MinCount)
	if err != nil {
		return nil, nil, err
	}
	vecs, st, err := train(ctx, opt, voc, start, func(m *model, jobs, free chan *job) error {
		return m.produce(ctx, files, jobs, free)
	})
	if err != nil {
		return nil, nil, err
	}
	st.SkippedFiles = skipped
	return vecs, st, nil
}

// ErrNothingToLearn is returned by TrainSentences when no sentence has two
// words of the vocabulary.
var ErrNothingToLearn = errors.New("word2vec: no sentence has two known words: nothing to learn from")

// TrainSentences is Train over sentences held in memory (opt.Corpus is
// not used): each sentence is a list of tokens. Recommenders train item
// vectors this way, with sessions as sentences and items as words
// (item2vec), usually with WholeSentence and no subsampling.
func TrainSentences(ctx context.Context, sentences [][]string, opt Options) (*Vectors, *Stats, error) {
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	voc, err := sentenceVocab(sentences, opt.MinCount)
	if err != nil {
		return nil, nil, err
	}
	// Encode once; unknown words stay as -1 so that progress still counts
	// every token, as it does for a corpus on disk.
	enc := make([][]int32, len(sentences))
	learnable := false
	for i, s := range sentences {
		e := make([]int32, len(s))
		known := 0
		for k, w := range s {
			id, ok := voc.index[w]
			if !ok {
				id = -1
			} else {
				known++
			}
			e[k] = id
		}
		learnable = learnable || known > 1
		enc[i] = e
	}
	if !learnable {
		return nil, nil, ErrNothingToLearn
	}
	return train(ctx, opt, voc, start, func(m *model, jobs, free chan *job) error {
		return m.produceSentences(ctx, enc, jobs, free)
	})
}

// train is what Train and TrainSentences share once the vocabulary is
// known (start is when counting it began): the model, the epochs over the
// jobs that produce sends, the vectors and the statistics.
func train(ctx context.Context, opt Options, voc *vocabulary, start time.Time, produce func(m *model, jobs, free chan *job) error) (*Vectors, *Stats, error) {
	vocabSecs := time.Since(start).Seconds()
	m := newModel(opt, voc)
	if err := m.run(ctx, func(jobs, free chan *job) error { return produce(m, jobs, free) }); err != nil {
		return nil, nil, err
	}
	st := m.stats(start)
	st.VocabSeconds = vocabSecs
	return m.vectors(), st, nil
}

// newModel allocates the matrices and the noise tables for voc.
func newModel(opt Options, voc *vocabulary) *model {
	voc.setSampling(opt.Sample)
	m := &model{opt: opt, voc: voc, dim: opt.Dim}
	m.totalWords = voc.rawWords * int64(opt.Epochs)
	n := len(voc.words)
	m.syn0 = make([]float32, n*opt.Dim)
	// gensim's initialisation: uniform in [-1/dim, 1/dim).
	rng := newRand(opt.Seed)
	for i := range m.syn0 {
		m.syn0[i] = (float32(rng.next()>>40)/(1<<24)*2 - 1) / float32(opt.Dim)
	}
	if opt.Negative > 0 {
		m.syn1neg = make([]float32, n*opt.Dim)
		m.noise = newAliasTable(voc.counts, 0.75)
		if len(opt.Groups) > 0 {
			m.groups = newGroupNoise(voc, opt.Groups, 0.75)
		}
	}
	if opt.HS {
		voc.buildHuffman()
		m.syn1 = make([]float32, max(n-1, 1)*opt.Dim)
	}
	return m
}

func (m *model) stats(start time.Time) *Stats {
	secs := time.Since(start).Seconds()
	st := &Stats{
		Seconds:     secs,
		Vocab:       len(m.voc.words),
		CorpusWords: m.voc.rawWords,
		Epochs:      m.opt.Epochs,
		Pairs:       m.pairs.Load(),
	}
	if secs > 0 {
		st.WordsPerSecond = float64(m.totalWords) / secs
	}
	return st
}

func (m *model) vectors() *Vectors {
	voc := m.voc
	vecs := &Vectors{Words: voc.words, Dim: m.dim, Data: m.syn0, index: make(map[string]int, len(voc.words))}
	for i, w := range voc.words {
		vecs.index[w] = i
	}
	return vecs
}

// job is a piece of the corpus: whole lines of a file, or sentences held
// in memory (already encoded).
type job struct {
	buf   []byte
	sents [][]int32
}

// run trains Threads workers on the jobs that produce sends, Epochs times
// over the corpus; produce takes empty jobs from free.
func (m *model) run(ctx context.Context, produce func(jobs, free chan *job) error) error {
	threads := m.opt.Threads
	jobs := make(chan *job, 2*threads)
	free := make(chan *job, 2*threads+2)
	for i := 0; i < cap(free); i++ {
		free <- &job{buf: make([]byte, 0, 1<<18)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readErr error
	go func() {
		defer close(jobs)
		readErr = produce(jobs, free)
	}()
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			w := newWorker(m, t)
			for j := range jobs {
				if j.sents != nil {
					for _, s := range j.sents {
						w.processSentence(s)
					}
				} else {
					w.process(j.buf)
				}
				free <- j
			}
			w.flush()
		}(t)
	}
	stop := make(chan struct{})
	var monitor sync.WaitGroup
	if m.opt.Progress != nil {
		monitor.Add(1)
		go func() {
			defer monitor.Done()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					m.opt.Progress(min(m.done.Load(), m.totalWords), m.totalWords)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	monitor.Wait()
	if readErr != nil {
		return readErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.opt.Progress != nil {
		m.opt.Progress(m.totalWords, m.totalWords)
	}
	return nil
}

// produce reads the files epoch after epoch in blocks ending at a newline.
func (m *model) produce(ctx context.Context, files []string, jobs, free chan *job) error {
	var carry []byte
	for ep := 0; ep < m.opt.Epochs; ep++ {
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				return fmt.Errorf("word2vec: corpus: %w", err)
			}
			eof := false
			for !eof {
				if ctx.Err() != nil {
					f.Close()
					return nil
				}
				j := <-free
				b := append(j.buf[:0], carry...)
				carry = carry[:0]
				for {
					if len(b) == cap(b) {
						b = append(b, 0)[:len(b)] // grow
					}
					k, err := f.Read(b[len(b):cap(b)])
					b = b[:len(b)+k]
					if err == io.EOF {
						eof = true
						break
					}
					if err != nil {
						f.Close()
						return fmt.Errorf("word2vec: corpus %s: %w", name, err)
					}
					if len(b) == cap(b) {
						if nl := lastNewline(b); nl >= 0 {
							carry = append(carry, b[nl+1:]...)
							b = b[:nl+1]
							break
						}
					}
				}
				j.buf = b
				if len(b) == 0 {
					free <- j
					continue
				}
				jobs <- j
			}
			f.Close()
			if len(carry) > 0 { // last line without a newline
				j := <-free
				j.buf = append(append(j.buf[:0], carry...), '\n')
				carry = carry[:0]
				jobs <- j
			}
		}
	}
	return nil
}

// produceSentences sends the encoded sentences epoch after epoch, in jobs
// of about 10,000 tokens.
func (m *model) produceSentences(ctx context.Context, enc [][]int32, jobs, free chan *job) error {
	for ep := 0; ep < m.opt.Epochs; ep++ {
		for lo := 0; lo < len(enc); {
			if ctx.Err() != nil {
				return nil
			}
			hi, n := lo, 0
			for hi < len(enc) && n < 10000 {
				n += len(enc[hi])
				hi++
			}
			j := <-free
			j.buf, j.sents = j.buf[:0], enc[lo:hi]
			jobs <- j
			lo = hi
		}
	}
	return nil
}

func lastNewline(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// rand is a wyrand generator: fast, 64 bits per step, good statistics.
type rand struct{ s uint64 }

func newRand(seed uint64) rand { return rand{s: seed*0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D} }

func (r *rand) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// worker owns one thread's buffers.
type worker struct {
	m     *model
	rng   rand
	sen   []int32 // the current sentence, after dropping unknown and subsampled words
	raw   int     // raw tokens in the current sentence
	local int64   // raw words not yet added to m.done
	pairs int64   // positive examples not yet added to m.pairs
	neu1  []float32
	neu1e []float32
	alpha float32
	// cur and next hold the noise words of the current and next example.
	cur, next []int32
}

func newWorker(m *model, t int) *worker {
	w := &worker{
		m:     m,
		rng:   newRand(m.opt.Seed ^ uint64(t+1)*0xD1B54A32D192ED03),
		sen:   make([]int32, 0, m.opt.MaxSentenceLength),
		neu1:  make([]float32, m.dim),
		neu1e: make([]float32, m.dim),
	}
	if m.opt.Negative > 0 {
		w.cur = make([]int32, m.opt.Negative)
		w.next = make([]int32, m.opt.Negative)
		w.drawNoise()
	}
	return w
}

// process trains on every line of buf.
func (w *worker) process(buf []byte) {
	index := w.m.voc.index
	sampleInt := w.m.voc.sampleInt
	maxLen := w.m.opt.MaxSentenceLength
	i := 0
	for i < len(buf) {
		c := buf[i]
		if c == '\n' {
			w.endSentence()
			i++
			continue
		}
		if isSpace[c] {
			i++
			continue
		}
		j := i + 1
		for j < len(buf) && !isSpace[buf[j]] {
			j++
		}
		w.raw++
		if id, ok := index[string(buf[i:j])]; ok {
			if sampleInt[id] >= uint64(uint32(w.rng.next())) {
				w.sen = append(w.sen, id)
			}
		}
		if w.raw >= maxLen {
			w.endSentence()
		}
		i = j
	}
	w.endSentence()
}

// processSentence trains on one encoded sentence (-1 for unknown words),
// as process does on a line.
func (w *worker) processSentence(ids []int32) {
	sampleInt := w.m.voc.sampleInt
	maxLen := w.m.opt.MaxSentenceLength
	for _, id := range ids {
		w.raw++
		if id >= 0 && sampleInt[id] >= uint64(uint32(w.rng.next())) {
			w.sen = append(w.sen, id)
		}
		if w.raw >= maxLen {
			w.endSentence()
		}
	}
	w.endSentence()
}

// endSentence trains on the collected sentence and updates progress and the
// learning rate.
func (w *worker) endSentence() {
	if w.raw == 0 {
		return
	}
	m := w.m
	done := m.done.Load() + w.local
	progress := float64(done) / float64(m.totalWords)
	if progress > 1 {
		progress = 1
	}
	w.alpha = float32(m.opt.Alpha - (m.opt.Alpha-m.opt.MinAlpha)*progress)
	if len(w.sen) > 1 {
		if m.opt.SkipGram {
			w.trainSG(w.sen)
		} else {
			w.trainCBOW(w.sen)
		}
	}
	w.local += int64(w.raw)
	w.raw = 0
	w.sen = w.sen[:0]
	if w.local >= 10000 {
		m.done.Add(w.local)
		w.local = 0
	}
}

func (w *worker) flush() {
	w.m.done.Add(w.local)
	w.local = 0
	w.m.pairs.Add(w.pairs)
	w.pairs = 0
}

// sigmoidGrad returns (label - σ(f))·alpha with the C tool's clamping
// outside [-6, 6].
func sigmoidGrad(f, label, alpha float32) float32 {
	switch {
	case f >= maxExp:
		return (label - 1) * alpha
	case f <= -maxExp:
		return label * alpha
	}
	return (label - expTable[int((f+maxExp)*(expTableSize/maxExp/2))]) * alpha
}

// trainSG is skip-gram: every context word's input vector predicts the
// centre word (as both reference implementations do). With GlobalContext
// the centre word's input vector also predicts the sentence's last word.
func (w *worker) trainSG(sen []int32) {
	m := w.m
	d := m.dim
	syn0 := m.syn0
	neu1e := w.neu1e[:d]
	alpha := w.alpha
	neg := m.opt.Negative
	last := len(sen) - 1
	for i, word := range sen {
		// Rows the next position will need: its output row and the input
		// row of the word entering the window.
		if i+1 < len(sen) && neg > 0 {
			kernels.Prefetch(m.syn1neg[int(sen[i+1])*d:][:d])
		}
		if k := i + 1 + m.opt.Window; k < len(sen) && !m.opt.WholeSentence {
			kernels.Prefetch(syn0[int(sen[k])*d:][:d])
		}
		lo, hi := w.window(i, len(sen))
		for j := lo; j < hi; j++ {
			if j != i {
				w.sgPair(sen[j], word, neu1e, alpha)
			}
		}
		// Airbnb's global context: the booked (last) word is a context of
		// every word, whether or not it is in the window.
		if m.opt.GlobalContext && i != last && (last < lo || last >= hi) {
			w.sgPair(word, sen[last], neu1e, alpha)
		}
	}
}

// window returns the context positions [lo, hi) of position i in a
// sentence of n words: the whole sentence, or a window shrunk by a random
// 0..Window-1 (the C tool's b).
func (w *worker) window(i, n int) (lo, hi int) {
	if w.m.opt.WholeSentence {
		return 0, n
	}
	b := int(uint32(w.rng.next()) % uint32(w.m.opt.Window))
	return max(0, i-w.m.opt.Window+b), min(n, i+w.m.opt.Window+1-b)
}

// sgPair trains the input vector of ctx to predict word.
func (w *worker) sgPair(ctx, word int32, neu1e []float32, alpha float32) {
	m := w.m
	d := m.dim
	l1 := m.syn0[int(ctx)*d : int(ctx)*d+d]
	clear(neu1e)
	if m.opt.HS {
		w.hs(word, l1, neu1e, alpha)
	}
	if m.opt.Negative > 0 {
		w.negSampling(word, l1, neu1e, alpha)
	}
	kernels.Axpy(1, neu1e, l1)
	w.pairs++
}

// drawNoise draws the noise words of the next example into w.next and
// prefetches their rows, so the memory latency overlaps the current
// example's arithmetic.
func (w *worker) drawNoise() {
	m := w.m
	d := m.dim
	for k := range w.next {
		t := m.noise.sample(w.rng.next())
		w.next[k] = t
		kernels.Prefetch(m.syn1neg[int(t)*d:][:d])
	}
}

// negSampling does one positive and Negative noise updates of the output
// vectors against the input l1, accumulating the input's gradient in neu1e.
// The noise words were drawn (and prefetched) one example ahead.
func (w *worker) negSampling(word int32, l1, neu1e []float32, alpha float32) {
	m := w.m
	d := m.dim
	syn1 := m.syn1neg
	copy(w.cur, w.next)
	w.drawNoise()
	if m.groups != nil {
		w.groupNoise(word)
	}
	l2 := syn1[int(word)*d : int(word)*d+d]
	g := sigmoidGrad(kernels.Dot(l1, l2), 1, alpha)
	kernels.Axpy2(g, l1, l2, neu1e)
	for _, t := range w.cur {
		if t == word {
			continue
		}
		l2 := syn1[int(t)*d : int(t)*d+d]
		g := sigmoidGrad(kernels.Dot(l1, l2), 0, alpha)
		kernels.Axpy2(g, l1, l2, neu1e)
	}
}

// groupNoise replaces the first Negative/2 noise words of the current
// example by words of the predicted word's group, if it has one (with
// Negative 1, the one noise word half of the time).
func (w *worker) groupNoise(word int32) {
	g := w.m.groups
	k := g.of[word]
	if k < 0 {
		return
	}
	n := len(w.cur) / 2
	if len(w.cur) == 1 && w.rng.next()&1 == 0 {
		n = 1
	}
	for i := range n {
		w.cur[i] = g.sample(k, w.rng.next())
	}
}

// hs walks the word's Huffman path (the C tool skips nodes whose score is
// outside [-6, 6]).
func (w *worker) hs(word int32, l1, neu1e []float32, alpha float32) {
	m := w.m
	d := m.dim
	code := m.voc.codes[word]
	point := m.voc.points[word]
	for k, p := range point {
		l2 := m.syn1[int(p)*d : int(p)*d+d]
		f := kernels.Dot(l1, l2)
		if f <= -maxExp || f >= maxExp {
			continue
		}
		s := expTable[int((f+maxExp)*(expTableSize/maxExp/2))]
		g := (1 - float32(code[k]) - s) * alpha
		kernels.Axpy2(g, l1, l2, neu1e)
	}
}

// trainCBOW is CBOW: the mean (or sum) of the context's input vectors
// predicts the centre word; every context vector gets the whole gradient.
func (w *worker) trainCBOW(sen []int32) {
	m := w.m
	d := m.dim
	syn0 := m.syn0
	neu1 := w.neu1[:d]
	neu1e := w.neu1e[:d]
	alpha := w.alpha
	for i, word := range sen {
		lo, hi := w.window(i, len(sen))
		clear(neu1)
		cw := 0
		for j := lo; j < hi; j++ {
			if j == i {
				continue
			}
			c := int(sen[j])
			kernels.Axpy(1, syn0[c*d:c*d+d], neu1)
			cw++
		}
		if cw == 0 {
			continue
		}
		if !m.opt.CBOWSum {
			kernels.Scale(1/float32(cw), neu1)
		}
		clear(neu1e)
		w.pairs++
		if m.opt.HS {
			w.hs(word, neu1, neu1e, alpha)
		}
		if m.opt.Negative > 0 {
			w.negSampling(word, neu1, neu1e, alpha)
		}
		for j := lo; j < hi; j++ {
			if j == i {
				continue
			}
			c := int(sen[j])
			kernels.Axpy(1, neu1e, syn0[c*d:c*d+d])
		}
	}
}
