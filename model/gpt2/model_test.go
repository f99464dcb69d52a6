package gpt2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/safetensors"
)

// bothPaths runs f with attention computed by per-head loops (the decode
// path) and by matrix multiplies (the prefill path) for every segment.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	old, oldPart := smallSeg, onePartMin
	defer func() { smallSeg, onePartMin = old, oldPart }()
	for _, p := range []struct {
		name      string
		seg, part int
	}{{"loops", 1 << 30, 1 << 30}, {"gemm", 1, 1}, {"default", old, oldPart}} {
		smallSeg, onePartMin = p.seg, p.part
		t.Run(p.name, f)
	}
}

func TestPrefillPaths(t *testing.T) {
	g := openGolden(t)
	m := loadTiny(t, "tiny")
	c := g.ids(t, "seq.c")
	bothPaths(t, func(t *testing.T) {
		for _, rows := range []int{0, 7, 16, 30} {
			s := m.NewState(StateOptions{MaxRows: rows})
			if err := s.Forward([][]int{c}, ForwardOptions{AllLogits: true}); err != nil {
				t.Fatal(err)
			}
			compare(t, "tiny.c.logits", s.AllLogits(0), g.get(t, "tiny.c.logits"))
			V := m.Config.VocabSize
			compare(t, "tiny.c.last", s.Logits(0), g.get(t, "tiny.c.logits")[29*V:])
		}
	})
}

func TestKVCacheContinuation(t *testing.T) {
	g := openGolden(t)
	m := loadTiny(t, "tiny")
	a := g.ids(t, "seq.a")
	V := m.Config.VocabSize
	full := g.get(t, "tiny.a.logits")
	bothPaths(t, func(t *testing.T) {
		s := m.NewState(StateOptions{MaxSeq: len(a)})
		if err := s.Forward([][]int{a[:8]}, ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
		compare(t, "after 8", s.Logits(0), full[7*V:8*V])
		if err := s.Forward([][]int{a[8:11]}, ForwardOptions{AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		cont := append([]float32(nil), s.AllLogits(0)...)
		if err := s.Forward([][]int{a[11:]}, ForwardOptions{AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		cont = append(cont, s.AllLogits(0)...)
		compare(t, "tiny.a.cont_logits", cont, g.get(t, "tiny.a.cont_logits"))
		// One token at a time from an empty cache, with layer 0's attention
		// probabilities (row i of the full forward's, for each head).
		s.Reset()
		nh, T := m.Config.NHead, len(a)
		probs := g.get(t, "tiny.a.l0.attn_probs")
		var got []float32
		hook := func(act *Activation) {
			if act.Name == "attn_probs" && act.Layer == 0 {
				got = append(got[:0], act.Data...)
			}
		}
		for i, id := range a {
			if err := s.Forward([][]int{{id}}, ForwardOptions{Hook: hook}); err != nil {
				t.Fatal(err)
			}
			compare(t, "decode", s.Logits(0), full[i*V:(i+1)*V])
			var want []float32
			for h := range nh {
				want = append(want, probs[(h*T+i)*T:(h*T+i)*T+i+1]...)
			}
			compare(t, "decode attn_probs", got, want)
		}
		if s.Len(0) != len(a) {
			t.Errorf("Len = %d, want %d", s.Len(0), len(a))
		}
		// Truncate and redo the last four tokens.
		s.Truncate(0, 8)
		if err := s.Forward([][]int{a[8:]}, ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
		compare(t, "after truncate", s.Logits(0), full[11*V:])
	})
}

func TestBatch(t *testing.T) {
	g := openGolden(t)
	m := loadTiny(t, "tiny")
	a, b, c := g.ids(t, "seq.a"), g.ids(t, "seq.b"), g.ids(t, "seq.c")
	V := m.Config.VocabSize
	la, lb, lc := g.get(t, "tiny.a.logits"), g.get(t, "tiny.b.logits"), g.get(t, "tiny.c.logits")
	bothPaths(t, func(t *testing.T) {
		for _, rows := range []int{0, 5, 13} {
			s := m.NewState(StateOptions{Batch: 3, MaxRows: rows})
			// Sequence 1 starts empty; 0 and 2 get prompts of different lengths.
			if err := s.Forward([][]int{a[:5], nil, c[:20]}, ForwardOptions{AllLogits: true}); err != nil {
				t.Fatal(err)
			}
			compare(t, "batch a", s.AllLogits(0), la[:5*V])
			compare(t, "batch c", s.AllLogits(2), lc[:20*V])
			if s.Logits(1) != nil {
				t.Error("sequence 1 has logits before any token")
			}
			// Now all three, different lengths again, last logits only.
			if err := s.Forward([][]int{a[5:], b, c[20:21]}, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			compare(t, "batch a last", s.Logits(0), la[11*V:])
			compare(t, "batch b last", s.Logits(1), lb[6*V:])
			compare(t, "batch c 21", s.Logits(2), lc[20*V:21*V])
			// Decode one token each.
			if err := s.Forward([][]int{nil, nil, c[21:22]}, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			compare(t, "batch c 22", s.Logits(2), lc[21*V:22*V])
			compare(t, "batch a kept", s.Logits(0), la[11*V:])
		}
	})
}

func TestInterventionHook(t *testing.T) {
	g := openGolden(t)
	m := loadTiny(t, "tiny")
	a := g.ids(t, "seq.a")
	bothPaths(t, func(t *testing.T) {
		logits, err := m.Forward(a, func(x *Activation) {
			if x.Name == "mlp_act" && x.Layer == 0 {
				for r := 0; r < x.Shape[0]; r++ {
					x.Data[r*x.Shape[1]+5] = 0
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "tiny.a.ablate_l0_n5.logits", logits, g.get(t, "tiny.a.ablate_l0_n5.logits"))
		if d := maxAbsDiff(logits, g.get(t, "tiny.a.logits")); d <= tol {
			t.Errorf("ablation changed the logits by only %g", d)
		}
	})
}

func TestHookShapes(t *testing.T) {
	m := loadTiny(t, "tiny")
	s := m.NewState(StateOptions{})
	var seen []string
	hook := func(a *Activation) {
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) {
			t.Errorf("%s layer %d: shape %v but %d values", a.Name, a.Layer, a.Shape, len(a.Data))
		}
		seen = append(seen, a.Name+":"+strings.Trim(strings.Join(strings.Fields(fmtInts(a.Shape)), ","), "[]")+":"+fmtInts([]int{a.Layer, a.Pos}))
	}
	if err := s.Forward([][]int{{1, 2, 3}}, ForwardOptions{Hook: hook}); err != nil {
		t.Fatal(err)
	}
	if err := s.Forward([][]int{{4}}, ForwardOptions{Hook: hook}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"resid_pre:3,64:[0 0]", "attn_probs:4,3,3:[0 0]", "mlp_act:3,256:[0 0]", "resid_post:3,64:[0 0]",
		"resid_pre:3,64:[1 0]", "attn_probs:4,3,3:[1 0]", "mlp_act:3,256:[1 0]", "resid_post:3,64:[1 0]",
		"ln_f:3,64:[-1 0]",
		"resid_pre:1,64:[0 3]", "attn_probs:4,1,4:[0 3]", "mlp_act:1,256:[0 3]", "resid_post:1,64:[0 3]",
		"resid_pre:1,64:[1 3]", "attn_probs:4,1,4:[1 3]", "mlp_act:1,256:[1 3]", "resid_post:1,64:[1 3]",
		"ln_f:1,64:[-1 3]",
	}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("hook calls\n got %v\nwant %v", seen, want)
	}
}

func fmtInts(x []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range x {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(itoa(v))
	}
	b.WriteByte(']')
	return b.String()
}

func itoa(v int) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

func TestForwardErrors(t *testing.T) {
	m := loadTiny(t, "tiny")
	s := m.NewState(StateOptions{Batch: 2, MaxSeq: 10})
	for _, c := range []struct {
		toks [][]int
		want string
	}{
		{[][]int{{1}, {2}, {3}}, "3 sequences for a State of batch 2"},
		{[][]int{{1, 100}}, "token id 100 out of range [0, 100)"},
		{[][]int{{1}, {-1}}, "token id -1 out of range"},
		{[][]int{make([]int, 11)}, "more than the 10 positions"},
	} {
		err := s.Forward(c.toks, ForwardOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward(%v) = %v, want %q", c.toks, err, c.want)
		}
	}
	if s.Len(0) != 0 || s.Len(1) != 0 {
		t.Errorf("failed Forward changed the cache: %d, %d", s.Len(0), s.Len(1))
	}
	if err := s.Forward([][]int{make([]int, 6)}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.Forward([][]int{make([]int, 5)}, ForwardOptions{})
	if !errors.Is(err, ErrContext) {
		t.Errorf("growing past MaxSeq: %v, want ErrContext", err)
	}
	if _, err := m.Forward(make([]int, 33), nil); !errors.Is(err, ErrContext) {
		t.Errorf("33 tokens: %v, want ErrContext", err)
	}
	if _, err := m.Forward(nil, nil); err == nil {
		t.Error("no tokens: no error")
	}
}

// writeCheckpoint writes the tiny model's tensors, edited by edit, to a
// temporary checkpoint directory with the given config.json.
func writeCheckpoint(t *testing.T, config string, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	src, err := safetensors.Open(filepath.Join("testdata", "tiny", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ts []safetensors.Tensor
	for _, n := range src.Names() {
		info, _ := src.Info(n)
		d, err := src.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.Tensor{Name: n, Shape: info.Shape, Data: append([]float32(nil), d...)})
	}
	if edit != nil {
		ts = edit(ts)
	}
	dir := t.TempDir()
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if config == "" {
		b, err := os.ReadFile(filepath.Join("testdata", "tiny", "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		config = string(b)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	drop := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			var out []safetensors.Tensor
			for _, x := range ts {
				if x.Name != name {
					out = append(out, x)
				}
			}
			return out
		}
	}
	tinyCfg, err := os.ReadFile(filepath.Join("testdata", "tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		config string
		edit   func([]safetensors.Tensor) []safetensors.Tensor
		want   string
	}{
		{"missing tensor", "", drop("transformer.h.1.mlp.c_fc.bias"), `tensor "transformer.h.1.mlp.c_fc.bias" is missing`},
		{"wrong shape", "", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "transformer.h.0.attn.c_attn.weight" {
					ts[i].Shape = []int{192, 64}
				}
			}
			return ts
		}, `tensor "transformer.h.0.attn.c_attn.weight" has shape [192 64], want [64 192]`},
		{"unknown tensor", "", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "transformer.h.2.ln_1.weight", Shape: []int{64}, Data: make([]float32, 64)})
		}, `unexpected tensor "transformer.h.2.ln_1.weight"`},
		{"fewer layers in config", strings.Replace(string(tinyCfg), `"n_layer": 2`, `"n_layer": 1`, 1), nil, `unexpected tensor "transformer.h.1.`},
		{"more layers in config", strings.Replace(string(tinyCfg), `"n_layer": 2`, `"n_layer": 3`, 1), nil, `tensor "transformer.h.2.ln_1.weight" is missing`},
		{"bad lm_head", "", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "lm_head.weight", Shape: []int{64, 100}, Data: make([]float32, 6400)})
		}, `tensor "lm_head.weight" has shape [64 100], want [100 64]`},
		{"bert", `{"model_type": "bert", "architectures": ["BertModel"]}`, nil, `config.json: model_type "bert" is not gpt2`},
		{"int dtype", "", func(ts []safetensors.Tensor) []safetensors.Tensor { return ts }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeCheckpoint(t, c.config, c.edit)
			m, err := Load(dir)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				m.Close()
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty dir: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), tinyCfg, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
}

// TestLMHeadTied: an lm_head.weight equal to wte is not kept twice.
func TestLMHeadTied(t *testing.T) {
	dir := writeCheckpoint(t, "", func(ts []safetensors.Tensor) []safetensors.Tensor {
		for _, x := range ts {
			if x.Name == "transformer.wte.weight" {
				return append(ts, safetensors.Tensor{Name: "lm_head.weight", Shape: x.Shape, Data: x.Data})
			}
		}
		t.Fatal("no wte")
		return nil
	})
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if &m.Weights.LMHead[0] != &m.Weights.WTE[0] {
		t.Error("a tied lm_head.weight is kept as a second copy")
	}
	g := openGolden(t)
	logits, err := m.Forward(g.ids(t, "seq.a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "tied lm_head logits", logits, g.get(t, "tiny.a.logits"))
}

// TestLMHead checks that a stored lm_head.weight different from wte is used.
func TestLMHead(t *testing.T) {
	dir := writeCheckpoint(t, "", func(ts []safetensors.Tensor) []safetensors.Tensor {
		head := make([]float32, 100*64)
		for i := 0; i < 64; i++ {
			head[7*64+i] = 1 // only token 7 gets a non-zero logit
		}
		return append(ts, safetensors.Tensor{Name: "lm_head.weight", Shape: []int{100, 64}, Data: head})
	})
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	logits, err := m.Forward([]int{1, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range logits[100:] {
		if (i == 7) != (v != 0) {
			t.Fatalf("logit %d = %v with an lm_head that only scores token 7", i, v)
		}
	}
}

func TestParseConfig(t *testing.T) {
	base := `"n_layer": 2, "n_head": 4, "n_embd": 64, "vocab_size": 100`
	for _, c := range []struct {
		json string
		want string // error substring, "" for success
		chk  func(Config) bool
	}{
		{`{"model_type": "gpt2", ` + base + `, "n_positions": 32}`, "", func(c Config) bool {
			return c.NPositions == 32 && c.Activation == "gelu_new" && c.LayerNormEps == 1e-5 && c.EOSTokenID == -1
		}},
		{`{"architectures": ["GPT2LMHeadModel"], ` + base + `, "n_ctx": 16, "activation_function": "gelu_pytorch_tanh", "eos_token_id": 99}`, "", func(c Config) bool {
			return c.NPositions == 16 && c.Activation == "gelu_new" && c.EOSTokenID == 99
		}},
		{`{"model_type": "gpt2", ` + base + `, "n_positions": 32, "activation_function": "gelu", "layer_norm_epsilon": 1e-6}`, "", func(c Config) bool {
			return c.Activation == "gelu" && c.LayerNormEps == 1e-6
		}},
		{`{"model_type": "llama", ` + base + `}`, `model_type "llama" is not gpt2`, nil},
		{`{"model_type": "gpt2", "architectures": ["LlamaForCausalLM"], ` + base + `}`, `architecture "LlamaForCausalLM"`, nil},
		{`{` + base + `, "n_positions": 32}`, "no model_type or architectures", nil},
		{`{"model_type": "gpt2", ` + base + `}`, "missing n_positions", nil},
		{`{"model_type": "gpt2", "n_layer": 2, "n_head": 3, "n_embd": 64, "vocab_size": 100, "n_positions": 8}`, "not a multiple of n_head", nil},
		{`{"model_type": "gpt2", ` + base + `, "n_positions": -1}`, "n_positions = -1", nil},
		{`{"model_type": "gpt2", ` + base + `, "n_positions": 8, "activation_function": "relu"}`, `activation_function "relu"`, nil},
		{`{"model_type": "gpt2", ` + base + `, "n_positions": 8, "eos_token_id": 100}`, "eos_token_id = 100", nil},
		{`{"model_type": "gpt2", ` + base + `, "n_positions": 8, "scale_attn_by_inverse_layer_idx": true}`, "scale_attn_by_inverse_layer_idx", nil},
		{`{"model_type": "gpt2", ` + base + `, "n_positions": 8, "n_inner": 100}`, "n_inner 100", nil},
		{`{"model_type": "gpt2", "n_layer": 1000000000000, "n_head": 4, "n_embd": 64, "vocab_size": 100, "n_positions": 8}`, "n_layer = 1000000000000 is larger", nil},
		{`[1, 2]`, "config.json:", nil},
		{`{"n_layer": "two"}`, "config.json:", nil},
	} {
		cfg, err := ParseConfig([]byte(c.json))
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseConfig(%s) error %v, want %q", c.json, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseConfig(%s): %v", c.json, err)
		} else if !c.chk(cfg) {
			t.Errorf("ParseConfig(%s) = %+v", c.json, cfg)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"model_type": "gpt2", "n_layer": 2, "n_head": 4, "n_embd": 64, "vocab_size": 100, "n_positions": 32}`))
	f.Add([]byte(`{"architectures": ["GPT2LMHeadModel"], "n_layer": 1, "n_head": 1, "n_embd": 1, "vocab_size": 1, "n_ctx": 1, "eos_token_id": [0]}`))
	f.Add([]byte(`{"model_type": "gpt2", "n_embd": 0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if err := c.check(); err != nil {
			t.Fatalf("ParseConfig accepted %s but %v", b, err)
		}
	})
}

// TestDecodeAllocs checks that decoding with a State allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	m := loadTiny(t, "tiny")
	s := m.NewState(StateOptions{})
	tok := [][]int{{1}}
	if err := s.Forward([][]int{{3, 4, 5}}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	// The kernels package's LayerNorm and GELU may allocate a closure per
	// call; everything gpt2 itself does must not allocate, with or without
	// an intervention hook.
	x := make([]float32, 64)
	ln := testing.AllocsPerRun(20, func() { kernels.LayerNorm(x, x, x, x, 1, 64, 1e-5) })
	gelu := testing.AllocsPerRun(20, func() { kernels.GeluTanh(x, x) })
	L := float64(m.Config.NLayer)
	hook := InterventionHook([]Intervention{{Layer: 1, Neuron: 3, Positions: []int{2, 40}, Scale: 0}, {Layer: 0, Neuron: 7, Scale: 2}})
	for _, fo := range []ForwardOptions{{}, {Hook: hook}} {
		n := testing.AllocsPerRun(20, func() {
			s.Truncate(0, 3)
			if err := s.Forward(tok, fo); err != nil {
				t.Fatal(err)
			}
		})
		if budget := (2*L+1)*ln + L*gelu; n > budget {
			t.Errorf("decode step (hook %v) allocates %v times (kernels account for %v)", fo.Hook != nil, n, budget)
		} else if budget > 0 {
			t.Logf("decode step (hook %v) allocates %v times, all in kernels (LayerNorm %v, GeluTanh %v per call)", fo.Hook != nil, n, ln, gelu)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	cfg := Config{NLayer: 1, NHead: 2, NEmbd: 8, NPositions: 16, VocabSize: 30, LayerNormEps: 1e-5, Activation: "gelu", EOSTokenID: 29, BOSTokenID: 29}
	m, err := Random(cfg, 9, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Forward([]int{1, 2, 3, 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range []string{"F32", "F16", "BF16"} {
		dir := t.TempDir()
		if err := m.Save(dir, dt); err != nil {
			t.Fatal(err)
		}
		l, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if l.Config != cfg {
			t.Errorf("%s: config %+v, want %+v", dt, l.Config, cfg)
		}
		got, err := l.Forward([]int{1, 2, 3, 4}, nil)
		if err != nil {
			t.Fatal(err)
		}
		limit := map[string]float64{"F32": 0, "F16": 0.05, "BF16": 0.2}[dt]
		if d := maxAbsDiff(got, want); d > limit {
			t.Errorf("%s: logits differ by %g after a round trip", dt, d)
		}
		l.Close()
	}
}
