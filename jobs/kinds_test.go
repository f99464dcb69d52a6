package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/train"
)

// versesFile writes the first n KJV verses (JSON lines with "text" and
// "ref", a blank line among them) to a file and returns its path.
func versesFile(t testing.TB, n int) string {
	t.Helper()
	var b strings.Builder
	for i, r := range testRecords(t, n) {
		if i == 7 {
			b.WriteString("\n")
		}
		line, _ := json.Marshal(map[string]any{"text": r.Text, "ref": r.Meta["ref"], "n": i})
		b.Write(line)
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "verses.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestIndexJobMatchesBuild: an index job's directory is the one a
// single-machine build (search.Ingest, as loupe index build --input does)
// writes: the same index file, byte for byte, and the same top-k; for
// HNSW and forests with one build thread too.
func TestIndexJobMatchesBuild(t *testing.T) {
	input := versesFile(t, 300)
	for _, kind := range []index.Kind{index.Flat, index.HNSW, index.Forest} {
		t.Run(string(kind), func(t *testing.T) {
			opts := index.DefaultOptions()
			opts.Kind = kind
			if kind != index.Flat {
				opts.Threads = 1 // several build threads make HNSW's graph depend on timing, on one machine too
			}
			indexJobMatchesBuild(t, input, opts)
		})
	}
}

func indexJobMatchesBuild(t *testing.T, input string, opts index.Options) {
	single := filepath.Join(t.TempDir(), "single.idx")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	x, _, done, err := search.Ingest(ctx, single, search.Source{Input: input}, true, search.Options{Model: defaults.Embed, Index: opts}, search.AddOptions{}, index.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 300 {
		t.Fatalf("single-machine index holds %d documents", x.Len())
	}
	done()

	_, url := natstest.Start(t)
	js := connect(t, url)
	docs, err := embed.ReadRecordsFile(input, embed.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "jobs.idx")
	job, err := SubmitIndex(ctx, js, docs, IndexSpec{Input: input, Output: out, Options: opts}, SubmitOptions{TaskSize: 70})
	if err != nil {
		t.Fatal(err)
	}
	if job.Tasks != 5 || job.Rows != 300 {
		t.Fatalf("job %+v, want 300 rows in 5 tasks", job)
	}
	startWorkers(t, url, 2, Config{}, &events{})
	st, err := Wait(ctx, js, job.ID, WaitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != out {
		t.Errorf("written %q, want %q", st.Written, out)
	}
	got, err := os.ReadFile(filepath.Join(out, index.FileName))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(single, index.FileName))
	if !bytes.Equal(got, want) {
		t.Errorf("index file differs from the single-machine build's (%d vs %d bytes)", len(got), len(want))
	}
	questions := []string{"the light of the world", "Abraham begat Isaac", "and God said"}
	var hits [2][][]search.Hit
	for i, dir := range []string{single, out} {
		s, err := search.Open(dir, search.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range questions {
			h, err := s.Search(ctx, q, search.SearchOptions{K: 5})
			if err != nil {
				t.Fatal(err)
			}
			hits[i] = append(hits[i], h)
		}
		s.Close()
	}
	a, _ := json.Marshal(hits[0])
	b, _ := json.Marshal(hits[1])
	if !bytes.Equal(a, b) || len(hits[0][0]) != 5 {
		t.Errorf("top-5 differ:\nsingle %s\njobs   %s", a, b)
	}

	// A second Wait may not overwrite the index (the spec says no).
	if _, err := Wait(ctx, js, job.ID, WaitOptions{}); err == nil || !errors.Is(err, index.ErrIndexExists) {
		t.Errorf("second Wait over an existing index: %v, want ErrIndexExists", err)
	}
}

// kjvCorpus writes the first n verses of the KJV as text lines.
func kjvCorpus(t testing.TB, n int) string {
	t.Helper()
	var b strings.Builder
	for _, r := range testRecords(t, n) {
		b.WriteString(r.Text + "\n")
	}
	path := filepath.Join(t.TempDir(), "corpus.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadGPT2 loads the built-in GPT-2.
func loadGPT2(t testing.TB) *generate.Pipeline {
	t.Helper()
	p, err := generate.Load(context.Background(), defaults.GPT2, generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// sameDatastore fails unless the datastores in dirs a and b hold the same
// tokens and index file, and manifests that differ in build_seconds only.
func sameDatastore(t *testing.T, a, b string) {
	t.Helper()
	for _, f := range []string{knnlm.TokensFile, filepath.Join(knnlm.IndexDir, index.FileName)} {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs (%d vs %d bytes)", f, len(x), len(y))
		}
	}
	ma, err := knnlm.ReadManifest(a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := knnlm.ReadManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	ma.Seconds, mb.Seconds = 0, 0
	if *ma != *mb {
		t.Errorf("manifests differ:\n%+v\n%+v", ma, mb)
	}
}

// TestKNNLMJobSurvivesKill: a knnlm-datastore job whose first task is held
// by a worker process killed with SIGKILL writes the datastore that
// knnlm.Build (loupe knnlm build) writes on one machine: the same tokens,
// the same keys in the same index file, the same manifest; and the
// datastore evaluates as the single-machine one does.
func TestKNNLMJobSurvivesKill(t *testing.T) {
	corpus := kjvCorpus(t, 60)
	p := loadGPT2(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	win := 64 // windows of 64 tokens, stride 32: many windows, each key with 32 tokens of context
	single := filepath.Join(t.TempDir(), "single.knn")
	opt := knnlm.BuildOptions{Model: defaults.GPT2}
	opt.Window.MaxLength = win
	if _, err := knnlm.BuildFiles(ctx, p.Model, p.Tokenizer, []string{corpus}, train.DocumentLines, single, opt); err != nil {
		t.Fatal(err)
	}

	_, url := natstest.Start(t)
	js := connect(t, url)
	ids, err := knnlm.TokenizeCorpus(p.Model, p.Tokenizer, []string{corpus}, train.DocumentLines)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "jobs.knn")
	cfg := Config{AckWait: 1500 * time.Millisecond}
	job, err := SubmitKNNLM(ctx, js, p.Model, p.Tokenizer, ids, KNNLMSpec{Input: []string{corpus}, Output: out, Model: defaults.GPT2, MaxLength: win},
		SubmitOptions{Config: cfg, TaskSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	if job.Rows != len(ids)-1 || job.Tasks < 4 {
		t.Fatalf("job of %d rows in %d tasks for %d tokens", job.Rows, job.Tasks, len(ids))
	}
	killed := killWorkerMidTask(t, url, job.ID)
	ev := &events{}
	startWorkers(t, url, 2, cfg, ev)
	if _, err := Wait(ctx, js, job.ID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	// (Done once as a rule; twice only if a loaded machine delays a
	// worker's progress reports past AckWait: the same object again.)
	if ev.count(OutcomeDone)[killed] == 0 {
		t.Errorf("the killed worker's task %d was never done by another worker (events %v)", killed, ev.all)
	}
	sameDatastore(t, single, out)
	// The datastore opens for the model and gives the same neighbours.
	ds, err := knnlm.Open(out, p.Model, p.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	ds.Close()
}

// TestKNNLMJobOtherModelIsDeadLettered: a worker whose model is not the
// one the job was submitted with (another fingerprint) fails the task,
// which is dead-lettered with that error.
func TestKNNLMJobOtherModelIsDeadLettered(t *testing.T) {
	p := loadGPT2(t)
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := knnlm.TokenizeCorpus(p.Model, p.Tokenizer, []string{kjvCorpus(t, 3)}, train.DocumentLines)
	if err != nil {
		t.Fatal(err)
	}
	// The job's spec names the built-in model but records another
	// fingerprint: the workers' model is "another model".
	s, err := open(ctx, js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	job, err := SubmitKNNLM(ctx, js, p.Model, p.Tokenizer, ids, KNNLMSpec{Output: filepath.Join(t.TempDir(), "x.knn"), Model: defaults.GPT2}, SubmitOptions{MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	job.KNNLM.ModelFingerprint = "0123456789abcdef"
	b, _ := json.Marshal(job)
	if _, err := s.kv.Put(ctx, specKey(job.ID), b); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, url, 1, Config{}, &events{})
	_, err = Wait(ctx, js, job.ID, WaitOptions{})
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failures) != job.Tasks {
		t.Fatalf("Wait: %v, want all %d tasks failed", err, job.Tasks)
	}
	if f := fe.Failures[0]; f.Deliveries != 2 || !strings.Contains(f.Error, "every worker must load the same weights") {
		t.Errorf("failure %+v", f)
	}
	if _, err := os.Stat(job.KNNLM.Output); !os.IsNotExist(err) {
		t.Errorf("datastore written for a failed job")
	}
}

// explainSingle is what loupe explain --format json prints for each
// prompt with spec's settings, less timings_ms.
func explainSingle(t *testing.T, p *generate.Pipeline, prompts []string, spec ExplainSpec) []string {
	t.Helper()
	e, err := explain.New(p)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := e.ParseOptions(spec.Options.options(), spec.Methods, spec.Target, spec.Watch, spec.Intervene)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pr := range prompts {
		ids, err := p.Encode(pr)
		if err != nil {
			t.Fatal(err)
		}
		gen, _, err := p.Resolve(spec.Settings, len(ids))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Explain(context.Background(), explain.Request{Prompt: pr, Generate: gen, Options: opt})
		if err != nil {
			t.Fatal(err)
		}
		res.TimingsMS = nil
		b, _ := json.Marshal(res)
		out = append(out, string(b))
	}
	return out
}

// withoutTimings drops timings_ms from a JSON object.
func withoutTimings(t *testing.T, line string) string {
	t.Helper()
	var r explain.Result
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if len(r.TimingsMS) == 0 {
		t.Errorf("line has no timings_ms")
	}
	r.TimingsMS = nil
	b, _ := json.Marshal(&r)
	return string(b)
}

// sameJSON reports where JSON texts a and b differ: in structure, a
// string, a boolean, or a number by more than tol·max(1, |x|, |y|).
func sameJSON(a, b string, tol float64) string {
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		return err.Error()
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		return err.Error()
	}
	return diffJSON("$", x, y, tol)
}

func diffJSON(path string, x, y any, tol float64) string {
	switch x := x.(type) {
	case map[string]any:
		y, ok := y.(map[string]any)
		if !ok || len(x) != len(y) {
			return path + ": different objects"
		}
		for k, v := range x {
			if d := diffJSON(path+"."+k, v, y[k], tol); d != "" {
				return d
			}
		}
	case []any:
		y, ok := y.([]any)
		if !ok || len(x) != len(y) {
			return path + ": different arrays"
		}
		for i := range x {
			if d := diffJSON(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], tol); d != "" {
				return d
			}
		}
	case float64:
		y, ok := y.(float64)
		if !ok || math.Abs(x-y) > tol*max(1, math.Abs(x), math.Abs(y)) {
			return fmt.Sprintf("%s: %v vs %v", path, x, y)
		}
	default:
		if x != y {
			return fmt.Sprintf("%s: %v vs %v", path, x, y)
		}
	}
	return ""
}

// TestExplainJobMatchesExplain: an explain job's lines, in input order,
// are the explanations of the prompts on one machine: the same tokens and
// the same numbers to float32 rounding (see sameJSON), timings aside.
func TestExplainJobMatchesExplain(t *testing.T) {
	prompts := []string{"In the beginning", "And God said, Let there be", "The LORD is my shepherd", "Blessed are the meek"}
	var in strings.Builder
	for _, p := range prompts {
		fmt.Fprintf(&in, "%s\n", p)
	}
	recs, err := embed.ReadRecords(strings.NewReader(in.String()), "prompts", embed.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seed, three := uint64(7), 3
	spec := ExplainSpec{Output: filepath.Join(t.TempDir(), "out.jsonl"), Model: defaults.GPT2, Methods: explain.MethodGradXInput, Target: "prob",
		Watch: []string{" the"}, Options: ExplainOptions{IGSteps: 20, TopK: 3, WatchPosition: -1, NMFComponents: 2, ToLayer: -1}}
	spec.Settings.Seed, spec.Settings.MaxNewTokens = &seed, &three
	want := explainSingle(t, loadGPT2(t), prompts, spec)

	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := SubmitExplain(ctx, js, recs, spec, SubmitOptions{TaskSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if job.Tasks != 2 {
		t.Fatalf("%d tasks, want 2", job.Tasks)
	}
	startWorkers(t, url, 2, Config{}, &events{})
	if _, err := Wait(ctx, js, job.ID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(spec.Output)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(prompts) {
		t.Fatalf("%d lines for %d prompts", len(lines), len(prompts))
	}
	for i, l := range lines {
		if d := sameJSON(withoutTimings(t, l), want[i], 0); d != "" {
			t.Errorf("prompt %d: job line differs from the single-machine explanation: %s", i, d)
		}
	}
}

// TestSubmitKindErrors: bad arguments of the new kinds are refused before
// anything is queued.
func TestSubmitKindErrors(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx := context.Background()
	recs := testRecords(t, 3)
	p := loadGPT2(t)
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"index: no output", func() error { _, err := SubmitIndex(ctx, js, recs, IndexSpec{}, SubmitOptions{}); return err }, "no output directory"},
		{"index: bad kind", func() error {
			_, err := SubmitIndex(ctx, js, recs, IndexSpec{Output: "x", Options: index.Options{Kind: "tree", Metric: index.L2, M: 16, EfConstruction: 1, Ef: 1, NTrees: 1, LeafSize: 1}}, SubmitOptions{})
			return err
		}, "tree"},
		{"explain: not jsonl", func() error {
			_, err := SubmitExplain(ctx, js, recs, ExplainSpec{Output: "x.json"}, SubmitOptions{})
			return err
		}, "want a FILE.jsonl"},
		{"explain: method", func() error {
			_, err := SubmitExplain(ctx, js, recs, ExplainSpec{Output: "x.jsonl", Model: "m", Methods: "magic", Target: "prob"}, SubmitOptions{})
			return err
		}, "magic"},
		{"knnlm: one token", func() error {
			_, err := SubmitKNNLM(ctx, js, p.Model, p.Tokenizer, []int{5}, KNNLMSpec{Output: "x", Model: "m"}, SubmitOptions{})
			return err
		}, "at least 2 are needed"},
		{"knnlm: window", func() error {
			_, err := SubmitKNNLM(ctx, js, p.Model, p.Tokenizer, []int{5, 6, 7}, KNNLMSpec{Output: "x", Model: "m", MaxLength: 100000}, SubmitOptions{})
			return err
		}, "max_length"},
	} {
		if err := c.err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestSplitWindows: the tasks of a knnlm-datastore job hold whole windows
// that tile the keys, and fit the message size limit.
func TestSplitWindows(t *testing.T) {
	ids := make([]int, 1000)
	for i := range ids {
		ids[i] = i % 50
	}
	for _, c := range []struct{ maxLen, stride, size, limit int }{
		{64, 32, 100, 1 << 20}, {64, 63, 1, 1 << 20}, {100, 7, 500, 1 << 20}, {64, 32, 1000, 600},
	} {
		ws := perplexity.Windows(len(ids), perplexity.Options{MaxLength: c.maxLen, Stride: c.stride})
		tasks, err := splitWindows("j", ids, ws, c.size, c.limit)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		keys, next := 0, 0
		for i, b := range tasks {
			if len(b) > c.limit {
				t.Errorf("%+v: task %d is %d bytes", c, i, len(b))
			}
			tk, err := decodeTask(b, "j", i)
			if err != nil {
				t.Fatal(err)
			}
			if tk.Windows[0] != next || tk.First != keys {
				t.Errorf("%+v: task %d starts at window %d key %d, want %d, %d", c, i, tk.Windows[0], tk.First, next, keys)
			}
			lo, hi := ws[tk.Windows[0]].Begin, ws[tk.Windows[1]-1].End
			if len(tk.Tokens) != hi-lo || int(tk.Tokens[0]) != ids[lo] {
				t.Errorf("%+v: task %d holds %d tokens, want %d from %d", c, i, len(tk.Tokens), hi-lo, lo)
			}
			for _, w := range ws[tk.Windows[0]:tk.Windows[1]] {
				keys += w.End - w.First
			}
			next = tk.Windows[1]
		}
		if keys != len(ids)-1 || next != len(ws) {
			t.Errorf("%+v: tasks hold %d keys and %d windows, want %d and %d", c, keys, next, len(ids)-1, len(ws))
		}
	}
}
