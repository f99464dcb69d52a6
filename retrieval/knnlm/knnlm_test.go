package knnlm

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/tokenizer"
)

// tinyDir is a tiny GPT-2 (2 layers, 32 wide, 16 positions) with a
// byte-level BPE tokenizer.
var tinyDir = filepath.Join("..", "..", "explain", "testdata", "tiny")

const corpusText = `In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light. And God saw the light, that it was good: and God divided the light from the darkness.`

func tiny(t testing.TB) (*gpt2.Model, tokenizer.Tokenizer, []int) {
	t.Helper()
	m, err := gpt2.Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.EncodeText(corpusText, tokenizer.EncodeOptions{}).IDs
	return m, tok, ids
}

var tinyWindow = perplexity.Options{MaxLength: 16, Stride: 8}

func buildTiny(t testing.TB, kind index.Kind) (*gpt2.Model, tokenizer.Tokenizer, []int, *Datastore) {
	t.Helper()
	m, tok, ids := tiny(t)
	dir := filepath.Join(t.TempDir(), "ds")
	man, err := Build(context.Background(), m, tok, ids, dir, BuildOptions{Model: "tiny", Window: tinyWindow, Index: kind, BatchRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	if man.Tokens != len(ids) || man.Keys != len(ids)-1 || man.Dim != 32 || man.Index != string(kind) || man.MaxLength != 16 || man.Stride != 8 {
		t.Fatalf("manifest %+v for %d tokens", man, len(ids))
	}
	ds, err := Open(dir, m, tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return m, tok, ids, ds
}

// key returns the key of position p as a plain forward computes it: the
// ln_f row of p in the window where ids[p+1] is a target.
func key(t testing.TB, m *gpt2.Model, ids []int, p int) []float32 {
	t.Helper()
	for _, w := range perplexity.Windows(len(ids), tinyWindow) {
		if p+1 < w.First || p+1 >= w.End {
			continue
		}
		var row []float32
		_, err := m.Forward(ids[w.Begin:p+1], func(a *gpt2.Activation) {
			if a.Name == "ln_f" {
				C := a.Shape[1]
				row = append([]float32(nil), a.Data[len(a.Data)-C:]...)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return row
	}
	t.Fatalf("position %d is in no window", p)
	return nil
}

// TestBuildKeys: every key equals the ln_f row of a plain forward over its
// window, its id is its position and its value the next token.
func TestBuildKeys(t *testing.T) {
	m, _, ids, ds := buildTiny(t, index.Flat)
	if len(ids) < 40 {
		t.Fatalf("corpus of %d tokens: too short for several windows", len(ids))
	}
	for p := 0; p < len(ids)-1; p++ {
		want := key(t, m, ids, p)
		got, ok := ds.idx.Vector(uint64(p))
		if !ok {
			t.Fatalf("no key for position %d", p)
		}
		for j := range want {
			if math.Abs(float64(got[j]-want[j])) > 1e-5 {
				t.Fatalf("key %d[%d] = %g, want %g (plain forward)", p, j, got[j], want[j])
			}
		}
		if ds.Token(p+1) != ids[p+1] {
			t.Fatalf("value of %d = %d, want %d", p, ds.Token(p+1), ids[p+1])
		}
	}
	if c := ds.Context(10, 4); !slices.Equal(c, ids[7:11]) {
		t.Errorf("Context(10, 4) = %v, want %v", c, ids[7:11])
	}
	if c := ds.Context(2, 0); !slices.Equal(c, ids[:3]) {
		t.Errorf("Context(2, 0) = %v, want %v", c, ids[:3])
	}
}

// bruteForce returns the positions of all keys sorted by float64 squared
// L2 distance to q, and the distances.
func bruteForce(t testing.TB, ds *Datastore, q []float32) ([]int, []float64) {
	n := ds.Len()
	pos := make([]int, n)
	d := make([]float64, n)
	for p := range n {
		v, _ := ds.idx.Vector(uint64(p))
		for j := range v {
			x := float64(v[j]) - float64(q[j])
			d[p] += x * x
		}
		pos[p] = p
	}
	sort.SliceStable(pos, func(a, b int) bool { return d[pos[a]] < d[pos[b]] })
	ds2 := make([]float64, n)
	for i, p := range pos {
		ds2[i] = d[p]
	}
	return pos, ds2
}

// TestSearchExact: the flat datastore's batched search returns the exact
// k nearest keys of a brute-force scan, for a batch large enough to take
// the matrix-multiply path and for a single query; HNSW with ef ≥ k
// finds nearly all of them.
func TestSearchExact(t *testing.T) {
	m, tok, ids, ds := buildTiny(t, index.Flat)
	C := ds.Manifest.Dim
	// Queries: hidden states of other text, and perturbed keys.
	other := tok.EncodeText("And the evening and the morning were the first day.", tokenizer.EncodeOptions{}).IDs
	var qs []float32
	_, err := m.Forward(other[:min(len(other), 16)], func(a *gpt2.Activation) {
		if a.Name == "ln_f" {
			qs = append(qs, a.Data...)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < 20; p += 3 {
		v, _ := ds.idx.Vector(uint64(p))
		for j := range v {
			qs = append(qs, v[j]+0.01*float32(j%3-1))
		}
	}
	nq := len(qs) / C
	for _, k := range []int{1, 5, 17} {
		res, err := ds.Search(qs, nq, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range nq {
			q := qs[i*C : (i+1)*C]
			pos, dist := bruteForce(t, ds, q)
			if len(res[i]) != k {
				t.Fatalf("k=%d query %d: %d results", k, i, len(res[i]))
			}
			for j, nb := range res[i] {
				if math.Abs(float64(nb.Distance)-dist[j]) > 1e-3*max(1, dist[j]) {
					t.Errorf("k=%d query %d rank %d: distance %g, brute force %g", k, i, j, nb.Distance, dist[j])
				}
				// Positions agree unless two keys are (nearly) tied.
				if nb.Pos != pos[j] && math.Abs(dist[j]-dist[min(j+1, len(dist)-1)]) > 1e-4 && (j == 0 || math.Abs(dist[j]-dist[j-1]) > 1e-4) {
					t.Errorf("k=%d query %d rank %d: position %d, brute force %d", k, i, j, nb.Pos, pos[j])
				}
				if nb.Token != ids[nb.Pos+1] {
					t.Errorf("neighbour %d: token %d, want %d", nb.Pos, nb.Token, ids[nb.Pos+1])
				}
			}
		}
		one, err := ds.Search(qs[:C], 1, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j := range one[0] {
			if one[0][j].Pos != res[0][j].Pos {
				t.Errorf("k=%d: single-query search rank %d = %d, batch %d", k, j, one[0][j].Pos, res[0][j].Pos)
			}
		}
	}
	// k beyond the keys is capped.
	if res, err := ds.Search(qs[:C], 1, 1<<20, nil); err != nil || len(res[0]) != ds.Len() {
		t.Errorf("k past the keys: %d results, %v", len(res[0]), err)
	}

	_, _, _, hs := buildTiny(t, index.HNSW)
	found, total := 0, 0
	res, err := hs.Search(qs, nq, 10, &SearchOptions{Ef: 64})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nq {
		pos, _ := bruteForce(t, hs, qs[i*C:(i+1)*C])
		for _, nb := range res[i] {
			total++
			if slices.Contains(pos[:10], nb.Pos) {
				found++
			}
		}
	}
	if recall := float64(found) / float64(total); recall < 0.95 {
		t.Errorf("HNSW recall@10 %.3f, want ≥ 0.95", recall)
	}
}

// TestBuildCancelLeavesNothing: a build cancelled half-way, or one that
// fails, leaves no datastore and no temporary directory.
func TestBuildCancelLeavesNothing(t *testing.T) {
	m, tok, ids := tiny(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "ds")
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := Build(ctx, m, tok, ids, dir, BuildOptions{Window: tinyWindow, Progress: func(done, total int) {
		calls++
		if done > total/2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || calls < 2 {
		t.Fatalf("cancelled build: %v after %d windows", err, calls)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("a cancelled build left %v", ents)
	}
	// A bad token id fails before anything is written.
	if _, err := Build(context.Background(), m, tok, []int{1, 2, 9999}, dir, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Errorf("token outside the vocabulary: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("a failed build left %v", ents)
	}
	// An existing datastore is kept unless Overwrite.
	if _, err := Build(context.Background(), m, tok, ids[:30], dir, BuildOptions{Window: tinyWindow}); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), m, tok, ids, dir, BuildOptions{Window: tinyWindow}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("build over a datastore: %v", err)
	}
	man, err := Build(context.Background(), m, tok, ids, dir, BuildOptions{Window: tinyWindow, Overwrite: true})
	if err != nil || man.Tokens != len(ids) {
		t.Fatalf("overwrite: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("after overwrite the parent holds %v", ents)
	}
	if got, err := ReadManifest(dir); err != nil || got.Tokens != len(ids) {
		t.Errorf("after overwrite: %+v, %v", got, err)
	}
}

// TestOpenRefusesOtherModel: another model or tokenizer is refused with
// an error saying which; a directory without a manifest is not a
// datastore.
func TestOpenRefusesOtherModel(t *testing.T) {
	m, tok, _, ds := buildTiny(t, index.Flat)
	other, err := gpt2.Random(m.Config, 7, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ds.Dir(), other, tok)
	var me *MismatchError
	if !errors.As(err, &me) || me.What != "model" || !strings.Contains(err.Error(), "another model") || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("other model: %v", err)
	}
	otherTok, err := tokenizer.Load(filepath.Join("..", "..", "tokenizer", "testdata", "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ds.Dir(), m, otherTok)
	if !errors.As(err, &me) || me.What != "tokenizer" || !strings.Contains(err.Error(), "another tokenizer") {
		t.Errorf("other tokenizer: %v", err)
	}
	if _, err := Open(t.TempDir(), m, tok); err == nil || !strings.Contains(err.Error(), "not a kNN-LM datastore") {
		t.Errorf("empty directory: %v", err)
	}
	if ModelFingerprint(m) == ModelFingerprint(other) || TokenizerFingerprint(tok) == TokenizerFingerprint(otherTok) {
		t.Error("fingerprints do not tell the models or tokenizers apart")
	}
}

// bruteMixer is the kNN-LM of a perplexity evaluation by brute force in
// float64.
type bruteMixer struct {
	t   testing.TB
	ds  *Datastore
	opt Options
}

func (b *bruteMixer) Mix(hidden []float32, _, targets []int, logp []float64) error {
	C := b.ds.Manifest.Dim
	for i, y := range targets {
		pos, dist := bruteForce(b.t, b.ds, hidden[i*C:(i+1)*C])
		k := min(b.opt.K, len(pos))
		d32 := make([]float32, k)
		vals := make([]int, k)
		for j := range k {
			d32[j], vals[j] = float32(dist[j]), b.ds.Token(pos[j]+1)
		}
		tokens, knn, _ := Distribution(d32, vals, b.opt.Temperature)
		lk := math.Inf(-1)
		if j := slices.Index(tokens, y); j >= 0 {
			lk = knn[j]
		}
		logp[i] = Interpolate(logp[i], lk, b.opt.Lambda)
	}
	return nil
}

// TestPerplexityMixer: perplexity with the Mixer equals a brute-force
// kNN-LM; λ = 0 is the model alone; Tune's grid rows equal the Mixer's
// perplexity for the same settings.
func TestPerplexityMixer(t *testing.T) {
	m, tok, _, ds := buildTiny(t, index.Flat)
	ctx := context.Background()
	text := tok.EncodeText("And God called the light Day, and the darkness he called Night. And the evening and the morning were the first day.", tokenizer.EncodeOptions{}).IDs
	base, err := perplexity.Evaluate(ctx, m, text, tinyWindow, nil)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(mx perplexity.Mixer) *perplexity.Result {
		t.Helper()
		w := tinyWindow
		w.Mixer = mx
		r, err := perplexity.Evaluate(ctx, m, text, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, o := range []Options{{Lambda: 0, K: 8, Temperature: 1}, {Lambda: 0.25, K: 8, Temperature: 1}, {Lambda: 0.6, K: 32, Temperature: 3}} {
		mx, err := ds.NewMixer(o)
		if err != nil {
			t.Fatal(err)
		}
		got := eval(mx)
		want := eval(&bruteMixer{t, ds, o})
		if math.Abs(got.NLL-want.NLL) > 1e-5 || got.Tokens != base.Tokens || mx.Targets != base.Tokens {
			t.Errorf("%+v: NLL %.9f, brute force %.9f (%d tokens, %d mixed)", o, got.NLL, want.NLL, got.Tokens, mx.Targets)
		}
		if o.Lambda == 0 && got.NLL != base.NLL {
			t.Errorf("λ = 0: NLL %.12f, the model alone %.12f", got.NLL, base.NLL)
		}
		if o.Lambda > 0 && got.NLL == base.NLL {
			t.Errorf("%+v: NLL unchanged", o)
		}
	}
	tr, err := Tune(ctx, ds, m, text, TuneOptions{Window: tinyWindow, Lambdas: []float64{0, 0.25, 0.6}, Ks: []int{32, 8}, Temperatures: []float64{1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Rows) != 12 || tr.Tokens != base.Tokens || math.Abs(tr.BaselineNLL-base.NLL) > 1e-12 {
		t.Fatalf("tune: %d rows, %d tokens, baseline %g (want %g)", len(tr.Rows), tr.Tokens, tr.BaselineNLL, base.NLL)
	}
	for _, row := range tr.Rows {
		mx, _ := ds.NewMixer(Options{Lambda: row.Lambda, K: row.K, Temperature: row.Temperature})
		want := eval(mx)
		if math.Abs(row.NLL-want.NLL) > 1e-9 {
			t.Errorf("tune row %+v: NLL %.12f, Mixer %.12f", row, row.NLL, want.NLL)
		}
		if row.NLL < tr.Best.NLL {
			t.Errorf("best %+v is not the lowest (%+v)", tr.Best, row)
		}
	}
}

// TestAdjuster: Adjust writes normalised interpolated log-probabilities
// and records the neighbours with weights summing to 1.
func TestAdjuster(t *testing.T) {
	m, _, ids, ds := buildTiny(t, index.Flat)
	if _, err := ds.NewAdjuster(Options{Lambda: 1.5, K: 4, Temperature: 1}); err == nil {
		t.Error("λ 1.5 accepted")
	}
	a, err := ds.NewAdjuster(Options{Lambda: 0.5, K: 6, Temperature: 2, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	var hidden []float32
	logits, err := m.Forward(ids[:12], func(ac *gpt2.Activation) {
		if ac.Name == "ln_f" {
			hidden = append([]float32(nil), ac.Data[len(ac.Data)-32:]...)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	row := append([]float32(nil), logits[11*V:]...)
	if err := a.Adjust(3, hidden, row); err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, x := range row {
		sum += math.Exp(float64(x))
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("Σ exp(adjusted) = %g, want 1", sum)
	}
	trs := a.Traces()
	if len(trs) != 1 || trs[0].Row != 3 || len(trs[0].Neighbors) != 6 || len(trs[0].LMLogprobs) != V {
		t.Fatalf("traces %+v", trs)
	}
	var w float64
	for i, nb := range trs[0].Neighbors {
		w += float64(nb.Weight)
		if i > 0 && nb.Distance < trs[0].Neighbors[i-1].Distance {
			t.Error("neighbours not nearest first")
		}
		c := ds.Context(nb.Pos, 8)
		if c[len(c)-1] != ids[nb.Pos] || nb.Token != ids[nb.Pos+1] {
			t.Errorf("neighbour %+v: context ends %d, want %d", nb, c[len(c)-1], ids[nb.Pos])
		}
	}
	if math.Abs(w-1) > 1e-5 {
		t.Errorf("weights sum to %g", w)
	}
	// The nearest neighbour of position 11's own context is its key.
	if trs[0].Neighbors[0].Pos != 11 || trs[0].Neighbors[0].Distance > 1e-3 {
		t.Errorf("nearest neighbour %+v, want position 11 at distance 0", trs[0].Neighbors[0])
	}
	for v := range V {
		if trs[0].MixLogprobs[v] != row[v] {
			t.Fatalf("trace MixLogprobs[%d] = %g, row %g", v, trs[0].MixLogprobs[v], row[v])
		}
	}
	a.ResetTraces()
	if len(a.Traces()) != 0 {
		t.Error("ResetTraces kept traces")
	}
}

// TestGenerateWithAdjuster: decoding through generate with λ = 1 and
// k = 1 from a prefix of the corpus follows the corpus (each step's
// nearest key is the datastore's own context), and each Logprob is the
// traced interpolated log-probability of the chosen token.
func TestGenerateWithAdjuster(t *testing.T) {
	m, _, ids, ds := buildTiny(t, index.Flat)
	a, err := ds.NewAdjuster(Options{Lambda: 1, K: 1, Temperature: 1, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := generate.Generate(context.Background(), m, ids[:10], generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 4, Adjust: a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.IDs, ids[10:14]) {
		t.Errorf("λ 1, k 1: generated %v, the corpus continues %v", res.IDs, ids[10:14])
	}
	a, _ = ds.NewAdjuster(Options{Lambda: 0.3, K: 16, Temperature: 5, Trace: true})
	res, err = generate.Generate(context.Background(), m, ids[20:26], generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 3, Adjust: a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	trs := a.Traces()
	if len(trs) != 3 {
		t.Fatalf("%d traces for 3 steps", len(trs))
	}
	for i, id := range res.IDs {
		if math.Abs(float64(res.Logprobs[i]-trs[i].MixLogprobs[id])) > 1e-5 {
			t.Errorf("step %d: Logprob %g, traced %g", i, res.Logprobs[i], trs[i].MixLogprobs[id])
		}
		if trs[i].MixLogprobs[id] == trs[i].LMLogprobs[id] {
			t.Errorf("step %d: interpolation left token %d's log-probability unchanged", i, id)
		}
	}
}
