package perplexity

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// golden is testdata/golden.json, written by testdata/ppl_ref.py.
type golden struct {
	IDs   []int `json:"ids"`
	Cases []struct {
		N          int     `json:"n"`
		MaxLength  int     `json:"max_length"`
		Stride     int     `json:"stride"`
		NLL        float64 `json:"nll"`
		Perplexity float64 `json:"perplexity"`
		Tokens     int     `json:"tokens"`
		Windows    int     `json:"windows"`
		GuideNLL   float64 `json:"guide_nll"`
	} `json:"cases"`
}

func loadTiny(t testing.TB) *gpt2.Model {
	t.Helper()
	m, err := gpt2.Load(filepath.Join("..", "model", "gpt2", "testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestPerplexityGolden matches the PyTorch reference's mean NLL within
// 1e-5 relative, the token and window counts exactly, with the default
// chunk of logits and with chunks of 5 rows (several per window).
func TestPerplexityGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	m := loadTiny(t)
	defer func(n int) { chunkRows = n }(chunkRows)
	for _, chunk := range []int{chunkRows, 5} {
		chunkRows = chunk
		worst := 0.0
		for _, c := range g.Cases {
			opt := Options{MaxLength: c.MaxLength, Stride: c.Stride}
			res, err := Evaluate(context.Background(), m, g.IDs[:c.N], opt, nil)
			if err != nil {
				t.Fatalf("n=%d %+v: %v", c.N, opt, err)
			}
			rel := math.Abs(res.NLL-c.NLL) / c.NLL
			worst = max(worst, rel)
			if rel > 1e-5 || res.Tokens != c.Tokens || res.Windows != c.Windows {
				t.Errorf("chunk %d, n=%d %+v: nll %.9g tokens %d windows %d, want %.9g %d %d (guide's accumulation: %.9g)",
					chunk, c.N, opt, res.NLL, res.Tokens, res.Windows, c.NLL, c.Tokens, c.Windows, c.GuideNLL)
			}
			if math.Abs(res.Perplexity-c.Perplexity)/c.Perplexity > 1e-5 {
				t.Errorf("n=%d %+v: perplexity %g, want %g", c.N, opt, res.Perplexity, c.Perplexity)
			}
			if res.InputTokens != c.N || res.MaxLength != c.MaxLength || res.Stride != c.Stride {
				t.Errorf("n=%d %+v: result %+v does not echo the input", c.N, opt, res)
			}
		}
		t.Logf("chunk %d: largest relative NLL difference %.2g", chunk, worst)
	}
}

func TestPerplexityWindows(t *testing.T) {
	for _, tc := range []struct {
		n, maxLen, stride int
		want              []Window
	}{
		{10, 4, 4, []Window{{0, 1, 4}, {4, 5, 8}, {8, 9, 10}}},
		{10, 8, 4, []Window{{0, 1, 8}, {4, 8, 10}}},
		{9, 4, 4, []Window{{0, 1, 4}, {4, 5, 8}, {8, 9, 9}}},
		{3, 8, 2, []Window{{0, 1, 3}}},
		{5, 3, 1, []Window{{0, 1, 3}, {1, 3, 4}, {2, 4, 5}}},
	} {
		got := Windows(tc.n, Options{MaxLength: tc.maxLen, Stride: tc.stride})
		if len(got) != len(tc.want) {
			t.Errorf("n=%d max %d stride %d: %v, want %v", tc.n, tc.maxLen, tc.stride, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("n=%d max %d stride %d: %v, want %v", tc.n, tc.maxLen, tc.stride, got, tc.want)
				break
			}
		}
	}
}

func TestPerplexityErrors(t *testing.T) {
	m := loadTiny(t)
	ids := []int{1, 2, 3, 4, 5}
	def := DefaultOptions(m.Config)
	if def.MaxLength != 32 || def.Stride != 16 {
		t.Fatalf("DefaultOptions: %+v, want max length 32 stride 16", def)
	}
	for _, tc := range []struct {
		ids   []int
		opt   Options
		field string
		msg   string
	}{
		{ids, Options{}, "max_length", "max_length 0: want 1 to 32"},
		{ids, Options{MaxLength: 33, Stride: 1}, "max_length", "n_positions"},
		{ids, Options{MaxLength: 8, Stride: 9}, "stride", "stride 9: want 1 to max_length (8)"},
		{ids, Options{MaxLength: 8, Stride: 0}, "stride", "stride 0"},
		{[]int{7}, def, "", "1 token(s): at least 2"},
		{nil, def, "", "0 token(s)"},
		{[]int{1, 100}, def, "", "token 100 at position 1"},
		{[]int{-1, 2}, def, "", "token -1 at position 0"},
	} {
		_, err := Evaluate(context.Background(), m, tc.ids, tc.opt, nil)
		var oe *OptionError
		switch {
		case err == nil:
			t.Errorf("%v %+v: no error", tc.ids, tc.opt)
		case !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%v %+v: %v, want it to say %q", tc.ids, tc.opt, err, tc.msg)
		case tc.field != "" && (!errors.As(err, &oe) || oe.Field != tc.field):
			t.Errorf("%v %+v: %v is not an OptionError of %s", tc.ids, tc.opt, err, tc.field)
		}
	}
}

func TestPerplexityProgressAndCancel(t *testing.T) {
	m := loadTiny(t)
	ids := make([]int, 300)
	for i := range ids {
		ids[i] = i * 7 % 100
	}
	defer func(n int) { chunkRows = n }(chunkRows)
	chunkRows = 8
	opt := Options{MaxLength: 32, Stride: 16}
	last := 0
	res, err := Evaluate(context.Background(), m, ids, opt, func(done, total int) {
		if done <= last || total != 299 {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil || last != res.Tokens || res.Tokens != 299 {
		t.Fatalf("Evaluate: %v; progress ended at %d; %+v", err, last, res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = Evaluate(ctx, m, ids, opt, func(done, total int) {
		calls++
		cancel()
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("cancelled after the first chunk: %v after %d progress calls", err, calls)
	}
}

func TestPerplexityTokenize(t *testing.T) {
	tok, err := tokenizer.Load(filepath.Join("..", "explain", "testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Tokenize(tok, []string{"the hat", "", "a cat"})
	if err != nil {
		t.Fatal(err)
	}
	want := tok.EncodeText("the hat\n\n\n\na cat", tokenizer.EncodeOptions{}).IDs
	if len(got) != len(want) {
		t.Fatalf("Tokenize: %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Tokenize: %v, want %v", got, want)
		}
	}
	if _, err := Tokenize(tok, []string{"", ""}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty texts: %v, want ErrEmpty", err)
	}
	if _, err := Tokenize(tok, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("no texts: %v, want ErrEmpty", err)
	}
}

// BenchmarkPerplexityTiny scores 4096 tokens with the tiny test model
// (32-token windows, stride 16) and reports target tokens per second.
func BenchmarkPerplexityTiny(b *testing.B) {
	m := loadTiny(b)
	ids := make([]int, 4096)
	for i := range ids {
		ids[i] = (i*37 + 11) % 100
	}
	opt := DefaultOptions(m.Config)
	var res *Result
	for b.Loop() {
		var err error
		if res, err = Evaluate(context.Background(), m, ids, opt, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkPerplexityWide scores 2048 tokens with a random 2-layer model of
// GPT-2 small's width, vocabulary and context (1024-token windows, stride
// 512), where the LM head and its log-softmax weigh as in the real model.
func BenchmarkPerplexityWide(b *testing.B) {
	cfg := gpt2.Config{NLayer: 2, NHead: 12, NEmbd: 768, NPositions: 1024, VocabSize: 50257,
		LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: 50256, BOSTokenID: 50256}
	m, err := gpt2.Random(cfg, 1, 0.05)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, 2048)
	for i := range ids {
		ids[i] = (i*7919 + 13) % cfg.VocabSize
	}
	for _, chunk := range []int{128, 512} {
		b.Run("chunk"+strconv.Itoa(chunk), func(b *testing.B) {
			defer func(n int) { chunkRows = n }(chunkRows)
			chunkRows = chunk
			var res *Result
			for b.Loop() {
				if res, err = Evaluate(context.Background(), m, ids, DefaultOptions(cfg), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// recordMixer checks what Evaluate hands a Mixer and replaces every
// log-probability by a constant.
type recordMixer struct {
	t      *testing.T
	m      *gpt2.Model
	ids    []int
	opt    Options
	seen   map[int]bool
	constL float64
}

func (r *recordMixer) Mix(hidden []float32, pos, targets []int, logp []float64) error {
	C := r.m.Config.NEmbd
	if len(hidden) != len(targets)*C || len(pos) != len(targets) || len(logp) != len(targets) {
		r.t.Fatalf("Mix: %d hidden, %d pos, %d targets, %d logp", len(hidden), len(pos), len(targets), len(logp))
	}
	for i, p := range pos {
		if targets[i] != r.ids[p+1] || r.seen[p] {
			r.t.Fatalf("Mix: position %d target %d (stream %d), seen before %v", p, targets[i], r.ids[p+1], r.seen[p])
		}
		r.seen[p] = true
		// The row's ln_f output, from a plain forward over its window.
		for _, w := range Windows(len(r.ids), r.opt) {
			if p+1 < w.First || p+1 >= w.End {
				continue
			}
			var want []float32
			r.m.Forward(r.ids[w.Begin:p+1], func(a *gpt2.Activation) {
				if a.Name == "ln_f" {
					want = a.Data[len(a.Data)-C:]
				}
			})
			for j := range C {
				if d := hidden[i*C+j] - want[j]; d > 1e-5 || d < -1e-5 {
					r.t.Fatalf("Mix: position %d hidden[%d] = %g, plain forward %g", p, j, hidden[i*C+j], want[j])
				}
			}
		}
		logp[i] = r.constL
	}
	return nil
}

// TestPerplexityMixer: a Mixer sees every target once, with its stream
// position and the ln_f row that predicts it, and what it writes is what
// is averaged.
func TestPerplexityMixer(t *testing.T) {
	m := loadTiny(t)
	ids := make([]int, 60)
	for i := range ids {
		ids[i] = (i*7 + 3) % m.Config.VocabSize
	}
	defer func(n, k int) { chunkRows, MixRows = n, k }(chunkRows, MixRows)
	for _, chunk := range [][2]int{{chunkRows, MixRows}, {5, 7}, {5, 1}} {
		chunkRows, MixRows = chunk[0], chunk[1]
		opt := Options{MaxLength: 16, Stride: 6}
		r := &recordMixer{t: t, m: m, ids: ids, opt: opt, seen: map[int]bool{}, constL: -2.5}
		opt.Mixer = r
		res, err := Evaluate(context.Background(), m, ids, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.seen) != len(ids)-1 || math.Abs(res.NLL-2.5) > 1e-12 {
			t.Errorf("chunk %v: %d positions mixed of %d, NLL %g (want 2.5)", chunk, len(r.seen), len(ids)-1, res.NLL)
		}
	}
}
