package retrieval

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/tokenizer"
)

func TestBuildQueryRoundTrip(t *testing.T) {
	const chunk = 16
	s, res, src := buildStore(t, chunk)
	ctx := context.Background()
	tok := s.Tokenizer()

	// The manifest: the sources in name order (the hidden file left out),
	// their counts, the LM and embedding model.
	man := s.Manifest()
	if !slices.Equal(man.Sources, res.Sources) || man.Chunks != res.Chunks || man.Tokens != res.Tokens {
		t.Fatalf("manifest %+v, build result %+v", man, res.Manifest)
	}
	wantFiles := []string{"b/john.txt", "b/psalm.txt", "genesis.txt"}
	if len(man.Sources) != len(wantFiles) {
		t.Fatalf("sources %+v", man.Sources)
	}
	chunks := 0
	for i, f := range wantFiles {
		p := filepath.Join(src, f)
		b, _ := os.ReadFile(p)
		n := len(tok.Encode(string(b)))
		if man.Sources[i].Path != p || man.Sources[i].Tokens != n || man.Sources[i].Chunks != (n+chunk-1)/chunk {
			t.Errorf("source %d: %+v, want %s with %d tokens", i, man.Sources[i], p, n)
		}
		chunks += man.Sources[i].Chunks
	}
	if man.Chunks != chunks || s.Len() != chunks || man.ChunkTokens != chunk || man.LM.Model != defaults.GPT2 ||
		man.EmbedModel != defaults.Embed || man.LM.Fingerprint != Fingerprint(tok) || man.LM.VocabSize != tok.VocabSize() {
		t.Errorf("manifest %+v, store of %d chunks", man, s.Len())
	}

	// Each stored chunk is its own nearest neighbour, with its
	// continuation and position.
	b, _ := os.ReadFile(filepath.Join(src, "genesis.txt"))
	ids := tok.Encode(string(b))
	for i, sp := range Split(len(ids), chunk) {
		text := tok.Decode(ids[sp.Start:sp.End])
		got, err := s.Retrieve(ctx, text, 3, search.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("chunk %d: %d hits", i, len(got))
		}
		c := got[0]
		if c.Text != text || c.Source != filepath.Join(src, "genesis.txt") || c.Chunk != i || c.Offset != sp.Start ||
			c.Tokens != sp.Len() || c.Continuation != tok.Decode(ids[sp.End:sp.ContEnd]) ||
			c.ContinuationTokens != sp.ContEnd-sp.End || c.Rank != 1 || math.Abs(float64(c.Score)-1) > 1e-4 {
			t.Errorf("chunk %d %q: nearest %+v", i, text, c)
		}
		if got[1].Score > c.Score || got[1].Rank != 2 {
			t.Errorf("chunk %d: not ranked: %+v", i, got)
		}
	}

	// Neighbours: RETRO's step over an input text cut into chunks.
	in := "The LORD is my shepherd; I shall not want. In the beginning was the Word, and the Word was with God, and more words."
	nb, err := s.Neighbours(ctx, in, 2, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inIDs := tok.Encode(in)
	spans := Split(len(inIDs), chunk)
	if len(nb) != len(spans) {
		t.Fatalf("%d input chunks, want %d", len(nb), len(spans))
	}
	var joined strings.Builder
	for i, c := range nb {
		joined.WriteString(c.Text)
		if c.Chunk != i || c.Offset != spans[i].Start || c.Tokens != spans[i].Len() || len(c.Neighbours) != 2 {
			t.Errorf("input chunk %d: %+v", i, c)
		}
	}
	if joined.String() != in {
		t.Errorf("input chunks join to %q", joined.String())
	}
	if !strings.Contains(nb[0].Neighbours[0].Source, "psalm") {
		t.Errorf("first input chunk (the psalm): neighbours %+v", nb[0].Neighbours)
	}

	// A filter on the metadata passes through.
	opt := search.SearchOptions{Filter: []search.Condition{{Key: "source", Value: filepath.Join(src, "b/john.txt")}}}
	got, err := s.Retrieve(ctx, "the earth was without form", 50, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != man.Sources[0].Chunks {
		t.Errorf("filtered: %d hits, want john's %d chunks", len(got), man.Sources[0].Chunks)
	}
	for _, c := range got {
		if !strings.HasSuffix(c.Source, "john.txt") {
			t.Errorf("filtered hit from %s", c.Source)
		}
	}
	// The ranking mode passes through: BM25 finds a chunk by its words.
	for _, mode := range []search.Mode{search.ModeBM25, search.ModeHybrid} {
		got, err := s.Retrieve(ctx, "Spirit of God moved upon the face", 1, search.SearchOptions{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !strings.Contains(got[0].Text+got[0].Continuation, "Spirit of God moved") {
			t.Errorf("mode %s: %+v", mode, got)
		}
	}
	if _, err := s.Retrieve(ctx, "x", -1, search.SearchOptions{}); err == nil {
		t.Error("k = -1: no error")
	}
	if _, err := s.Neighbours(ctx, "", 1, search.SearchOptions{}); err == nil {
		t.Error("empty text: no error")
	}
}

func TestOpenRefusesOtherTokenizer(t *testing.T) {
	src := corpus(t)
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := Build(context.Background(), dir, []string{src}, buildOpts(32)); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join("..", "tokenizer", "testdata", "gpt2") // OpenAI GPT-2's vocab.json + merges.txt
	_, err := Open(context.Background(), dir, OpenOptions{LM: other})
	var te *TokenizerError
	if !errors.As(err, &te) {
		t.Fatalf("open with GPT-2's tokenizer: %v, want a *TokenizerError", err)
	}
	for _, want := range []string{dir, defaults.GPT2, other, "8192", "50257"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// The same model's tokenizer, loaded already, is accepted.
	tok := defaultTokenizer(t)
	s, err := Open(context.Background(), dir, OpenOptions{LM: defaults.GPT2, Tokenizer: tok})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A directory without a manifest is not a store.
	if _, err := Open(context.Background(), t.TempDir(), OpenOptions{}); !errors.Is(err, ErrNotStore) {
		t.Errorf("empty directory: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	d, err := defaults.Dir(defaults.GPT2)
	if err != nil {
		t.Fatal(err)
	}
	// tokenizer.json and vocab.json + merges.txt of one tokenizer: one
	// fingerprint.
	a, err := tokenizer.LoadBPE(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tokenizer.LoadBPEFiles(filepath.Join(d, "vocab.json"), filepath.Join(d, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fa, fb := Fingerprint(a), Fingerprint(b); fa != fb || !strings.HasPrefix(fa, "sha256:") {
		t.Errorf("tokenizer.json %s, vocab.json + merges.txt %s", fa, fb)
	}
	// The same vocabulary with a merge left out: another fingerprint.
	tmp := t.TempDir()
	merges, _ := os.ReadFile(filepath.Join(d, "merges.txt"))
	lines := strings.Split(string(merges), "\n")
	cut := -1
	for i, l := range lines {
		if l != "" && !strings.HasPrefix(l, "#") {
			cut = i
			break
		}
	}
	lines = append(lines[:cut], lines[cut+1:]...)
	os.WriteFile(filepath.Join(tmp, "merges.txt"), []byte(strings.Join(lines, "\n")), 0o644)
	vocab, _ := os.ReadFile(filepath.Join(d, "vocab.json"))
	os.WriteFile(filepath.Join(tmp, "vocab.json"), vocab, 0o644)
	c, err := tokenizer.LoadBPEFiles(filepath.Join(tmp, "vocab.json"), filepath.Join(tmp, "merges.txt"))
	if err != nil {
		t.Skipf("vocabulary without its first merge: %v", err)
	}
	if Fingerprint(c) == Fingerprint(a) {
		t.Error("a merge left out: same fingerprint")
	}
}

func TestBuildCancelledLeavesNothing(t *testing.T) {
	src := corpus(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := buildOpts(4)
	o.BatchChunks = 3
	calls := 0
	o.Progress = func(done, total int64) {
		calls++
		if done <= 0 || done > total {
			t.Errorf("progress %d of %d", done, total)
		}
		if calls == 2 {
			cancel() // midway: more batches are left
		}
	}
	_, err := Build(ctx, dir, []string{src}, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
	if calls != 2 {
		t.Errorf("%d progress reports after the cancel's", calls)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("a cancelled build left %v", entries)
	}
}

func TestBuildDestination(t *testing.T) {
	src := corpus(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	ctx := context.Background()
	// What a killed build left (its process gone) is removed; a running
	// build's directory is not.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip(err)
	}
	for name, pid := range map[string]int{".store.rag-tmp-1": dead.Process.Pid, ".store.rag-tmp-2": os.Getpid()} {
		os.MkdirAll(filepath.Join(parent, name), 0o755)
		os.WriteFile(filepath.Join(parent, name, pidFile), []byte(strconv.Itoa(pid)), 0o644)
	}
	if _, err := Build(ctx, dir, []string{src}, buildOpts(64)); err != nil {
		t.Fatal(err)
	}
	if got := hasPrefixEntry(t, parent, "."); len(got) != 1 || got[0] != ".store.rag-tmp-2" {
		t.Errorf("hidden entries after the build: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); err == nil {
		t.Error("the store keeps the build's pid file")
	}
	// A second build to the same place: refused, or with Overwrite done.
	if _, err := Build(ctx, dir, []string{src}, buildOpts(64)); !errors.Is(err, ErrStoreExists) {
		t.Errorf("second build: %v, want ErrStoreExists", err)
	}
	o := buildOpts(8)
	o.Overwrite = true
	res, err := Build(ctx, dir, []string{filepath.Join(src, "genesis.txt")}, o)
	if err != nil {
		t.Fatal(err)
	}
	man, err := ReadManifest(dir)
	if err != nil || man.ChunkTokens != 8 || len(man.Sources) != 1 || man.Chunks != res.Chunks {
		t.Errorf("overwritten store: %+v, %v", man, err)
	}
	if got := hasPrefixEntry(t, parent, "."); len(got) != 1 {
		t.Errorf("hidden entries after overwriting: %v", got)
	}
	// An empty directory is a free destination; bad options are refused
	// before any work.
	empty := filepath.Join(parent, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := Build(ctx, empty, []string{src}, buildOpts(64)); err != nil {
		t.Errorf("build into an empty directory: %v", err)
	}
	for _, bad := range []func(*BuildOptions){
		func(o *BuildOptions) { o.ChunkTokens = -1 },
		func(o *BuildOptions) { o.LM = "" },
		func(o *BuildOptions) { o.EmbedModel = "" },
		func(o *BuildOptions) { o.BatchChunks = -2 },
	} {
		o := buildOpts(64)
		bad(&o)
		if _, err := Build(ctx, filepath.Join(parent, "bad"), []string{src}, o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
	// Corpus errors name the file.
	bin := filepath.Join(parent, "bin.txt")
	os.WriteFile(bin, []byte{'a', 0, 'b'}, 0o644)
	if _, err := Build(ctx, filepath.Join(parent, "bad"), []string{bin}, buildOpts(64)); err == nil || !strings.Contains(err.Error(), bin) {
		t.Errorf("NUL bytes: %v", err)
	}
	emptyFile := filepath.Join(parent, "empty.txt")
	os.WriteFile(emptyFile, nil, 0o644)
	if _, err := Build(ctx, filepath.Join(parent, "bad"), []string{emptyFile}, buildOpts(64)); err == nil || !strings.Contains(err.Error(), "no text") {
		t.Errorf("empty corpus: %v", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "bad")); err == nil {
		t.Error("failed builds left a store")
	}
}
