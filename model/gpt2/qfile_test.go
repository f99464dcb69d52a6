package gpt2

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// saveQuantizedDir quantizes the checkpoint src at load with precision p
// and writes it with SaveQuantized into a new directory, keeping src's
// config.json keys.
func saveQuantizedDir(t testing.TB, src, p string) string {
	t.Helper()
	m, err := LoadWith(src, LoadOptions{Quantize: p})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.SaveQuantized(dir, cfg); err != nil {
		t.Fatal(err)
	}
	return dir
}

// untiedDir writes the tiny checkpoint with an LM head that is not wte.
func untiedDir(t testing.TB) string {
	t.Helper()
	m := loadTiny(t, "tiny").Clone()
	m.Weights.LMHead = slices.Clone(m.Weights.WTE)
	for i := range m.Weights.LMHead {
		m.Weights.LMHead[i] *= float32(1 + 0.25*math.Sin(float64(i)))
	}
	dir := t.TempDir()
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestQuantizedDirBitIdentical: a model loaded from the directory
// SaveQuantized wrote computes exactly (bit for bit) what LoadWith with
// Quantize computes on the source checkpoint: all-position logits,
// a batch prefill and decoding with the key/value cache, for int8, bf16
// and f16, F32 (keys with the transformer. prefix) and F16 sources, a tied and
// an untied head, and the head in one part or several.
func TestQuantizedDirBitIdentical(t *testing.T) {
	untied := untiedDir(t)
	for _, c := range []struct {
		name, src string
		p         string
		headRows  int
	}{
		{"int8 tiny", filepath.Join("testdata", "tiny"), Int8, 4096},
		{"int8 tiny head in parts", filepath.Join("testdata", "tiny"), Int8, 48},
		{"int8 tiny_f16", filepath.Join("testdata", "tiny_f16"), Int8, 4096},
		{"int8 untied", untied, Int8, 4096},
		{"bf16 tiny", filepath.Join("testdata", "tiny"), BF16, 4096},
		{"bf16 tiny head in parts", filepath.Join("testdata", "tiny"), BF16, 48},
		{"bf16 untied", untied, BF16, 4096},
		{"f16 tiny", filepath.Join("testdata", "tiny"), F16, 4096},
		{"f16 tiny head in parts", filepath.Join("testdata", "tiny"), F16, 48},
		{"f16 tiny_f16", filepath.Join("testdata", "tiny_f16"), F16, 4096},
		{"f16 untied", untied, F16, 4096},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := headRows
			headRows = c.headRows
			defer func() { headRows = old }()
			dir := saveQuantizedDir(t, c.src, c.p)
			want, err := LoadWith(c.src, LoadOptions{Quantize: c.p})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			for _, q := range []string{"", c.p} {
				got, err := LoadWith(dir, LoadOptions{Quantize: q})
				if err != nil {
					t.Fatal(err)
				}
				defer got.Close()
				if got.Precision() != c.p || got.Config.Quantization != c.p || !got.storedQuantized() {
					t.Fatalf("Precision %q, Config.Quantization %q, want %q", got.Precision(), got.Config.Quantization, c.p)
				}
				if got.quant.tied != want.quant.tied || got.quant.tied != (c.src != untied) {
					t.Errorf("tied: loaded %v, at load %v", got.quant.tied, want.quant.tied)
				}
				if a, b := got.QuantizedBytes(), want.QuantizedBytes(); a != b {
					t.Errorf("QuantizedBytes %d, want %d", a, b)
				}
				if got.Weights.LMHead != nil || got.Weights.Blocks[0].AttnW != nil || (got.Weights.WTE == nil) != got.quant.tied {
					t.Errorf("the loaded model holds float32 matrices it should not")
				}
				V := got.Config.VocabSize
				a, b := teacherIDs(20, V), teacherIDs(27, V)[5:]
				for _, ids := range [][]int{a, b} {
					lw, err := want.Forward(ids, nil)
					if err != nil {
						t.Fatal(err)
					}
					lg, err := got.Forward(ids, nil)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(math32bits(lw), math32bits(lg)) {
						t.Fatalf("logits differ by up to %g", maxAbsDiff(lw, lg))
					}
				}
				sw, sg := want.NewState(StateOptions{Batch: 2, MaxSeq: 32}), got.NewState(StateOptions{Batch: 2, MaxSeq: 32})
				steps := [][][]int{{a[:5], b[:9]}, {{a[5]}, {b[9]}}, {{a[6]}, nil}, {a[7:10], {b[10]}}}
				for i, toks := range steps {
					if err := sw.Forward(toks, ForwardOptions{}); err != nil {
						t.Fatal(err)
					}
					if err := sg.Forward(toks, ForwardOptions{}); err != nil {
						t.Fatal(err)
					}
					for s := range 2 {
						if !slices.Equal(math32bits(sw.Logits(s)), math32bits(sg.Logits(s))) {
							t.Fatalf("step %d, sequence %d: logits differ by up to %g", i, s, maxAbsDiff(sw.Logits(s), sg.Logits(s)))
						}
					}
				}
			}
		})
	}
}

// math32bits returns the bits of v, so that NaNs compare too.
func math32bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

// TestQuantizedDirLayout checks the documented layout of the file and of
// config.json: dtypes and shapes (nn.Linear's [out, in]), the scales, the
// metadata, the source's config keys kept, and that the I8 values times
// their scales are the float32 weights within half a step.
func TestQuantizedDirLayout(t *testing.T) {
	src := filepath.Join("testdata", "tiny")
	dir := saveQuantizedDir(t, src, Int8)
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta := f.Metadata()
	if meta["format"] != "loupe" || meta[MetaQuantization] != "int8" || meta[MetaFormatVersion] != "1" {
		t.Errorf("__metadata__ %v", meta)
	}
	C, V := 64, 100
	for _, c := range []struct {
		name, dtype string
		shape       []int
	}{
		{"wte.weight", "I8", []int{V, C}},
		{"wte.weight.scale", "F32", []int{V}},
		{"wpe.weight", "F32", []int{32, C}},
		{"h.1.attn.c_attn.weight", "I8", []int{3 * C, C}},
		{"h.1.attn.c_attn.weight.scale", "F32", []int{3 * C}},
		{"h.1.attn.c_attn.bias", "F32", []int{3 * C}},
		{"h.0.mlp.c_proj.weight", "I8", []int{C, 4 * C}},
		{"h.0.mlp.c_fc.weight", "I8", []int{4 * C, C}},
		{"h.0.ln_2.bias", "F32", []int{C}},
		{"ln_f.weight", "F32", []int{C}},
	} {
		info, ok := f.Info(c.name)
		if !ok || info.DType != c.dtype || !slices.Equal(info.Shape, c.shape) {
			t.Errorf("%s: %+v (present %v), want %s %v", c.name, info, ok, c.dtype, c.shape)
		}
	}
	if n := len(f.Names()); n != 5+2*16 { // wte, its scale, wpe, ln_f; per block 4 LayerNorm tensors and 4 × (weight, scale, bias)
		t.Errorf("%d tensors, want %d", n, 5+2*16)
	}
	ref := loadTiny(t, "tiny")
	raw, _ := f.Bytes("h.0.mlp.c_fc.weight")
	scale, _ := f.Float32("h.0.mlp.c_fc.weight.scale")
	W := ref.Weights.Blocks[0].FCW // Conv1D [C, 4C]
	for j := range 4 * C {
		for i := range C {
			deq := float64(int8(raw[j*C+i])) * float64(scale[j])
			if d := math.Abs(deq - float64(W[i*4*C+j])); d > float64(scale[j])*0.5001 {
				t.Fatalf("c_fc[%d][%d]: stored %d × %g is %g from the weight %g", j, i, int8(raw[j*C+i]), scale[j], d, W[i*4*C+j])
			}
		}
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	qc, _ := cfg["quantization_config"].(map[string]any)
	if qc["quant_method"] != "loupe" || qc["precision"] != "int8" || qc["format_version"] != 1.0 || cfg["n_embd"] != 64.0 {
		t.Errorf("config.json: %s", b)
	}
	// bf16: the head's bits are the float32 wte rounded.
	bdir := saveQuantizedDir(t, src, BF16)
	bf, err := safetensors.Open(filepath.Join(bdir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	hb, _ := bf.Bytes("wte.weight")
	if info, _ := bf.Info("wte.weight"); info.DType != "BF16" || bf.Metadata()[MetaQuantization] != "bf16" {
		t.Errorf("bf16 wte: %+v, metadata %v", info, bf.Metadata())
	}
	for i, v := range ref.Weights.WTE {
		if got := binary.LittleEndian.Uint16(hb[2*i:]); got != safetensors.Float32ToBFloat16(v) {
			t.Fatalf("wte[%d]: bits %#04x, want %#04x", i, got, safetensors.Float32ToBFloat16(v))
		}
	}
}

// TestQuantizedDirFloat32Pass: on a model loaded from a quantized
// directory the differentiable pass runs on dequantized weights (the
// embedding and unembedding included) and is close to the float32
// model's; Backward works; training, Save and another precision are
// errors that say why.
func TestQuantizedDirFloat32Pass(t *testing.T) {
	dir := saveQuantizedDir(t, filepath.Join("testdata", "tiny"), Int8)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ref := loadTiny(t, "tiny")
	ids := teacherIDs(12, m.Config.VocabSize)
	C := m.Config.NEmbd
	x, err := m.Embed(ids)
	if err != nil {
		t.Fatal(err)
	}
	xr, _ := ref.Embed(ids)
	if d := maxAbsDiff(x, xr); d == 0 || d > 2e-3 {
		t.Errorf("dequantized embeddings differ by %g from float32's", d)
	}
	p, err := m.ForwardPass(x, 1, len(ids), PassOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := ref.ForwardPass(xr, 1, len(ids), PassOptions{})
	rows := []int{len(ids) - 1}
	if d := maxAbsDiff(p.Logits(rows), pr.Logits(rows)); d > 0.05 {
		t.Errorf("dequantized pass logits differ by %g from float32's", d)
	}
	dl := make([]float32, m.Config.VocabSize)
	dl[3] = 1
	g, err := p.Backward([]Seed{{Seq: 0, Len: len(ids)}}, dl, nil)
	if err != nil || len(g) != len(ids)*C {
		t.Fatalf("Backward: %d values, %v", len(g), err)
	}
	for _, v := range g {
		if math.IsNaN(float64(v)) {
			t.Fatal("NaN gradient")
		}
	}
	if _, err := m.ForwardPass(x, 1, len(ids), PassOptions{Train: true}); !errors.Is(err, ErrStoredQuantized) {
		t.Errorf("training pass: %v, want ErrStoredQuantized", err)
	}
	if err := m.Clone().CheckTrainable(); !errors.Is(err, ErrStoredQuantized) {
		t.Errorf("Clone().CheckTrainable: %v", err)
	}
	if err := m.Save(t.TempDir(), "F32"); !errors.Is(err, ErrStoredQuantized) {
		t.Errorf("Save: %v", err)
	}
	if err := m.Quantize(BF16); !errors.Is(err, ErrStoredQuantized) || !strings.Contains(err.Error(), "bf16 asked for, but the model's weights are stored int8") {
		t.Errorf("Quantize(bf16): %v", err)
	}
	if err := m.Quantize(Int8); err != nil {
		t.Errorf("Quantize(int8) on an int8 directory: %v", err)
	}
	for _, q := range []string{"bf16", "none", "float32"} {
		_, err := LoadWith(dir, LoadOptions{Quantize: q})
		want := "stores int8 weights (written by loupe quantize): precision " + precisionName(must(ParsePrecision(q))) + " asked for"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadWith(Quantize %q): %v, want %q", q, err, want)
		}
	}
	if err := ref.CheckTrainable(); err != nil {
		t.Errorf("float32 model: CheckTrainable %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// rawTensors reads every tensor of a safetensors file as stored bytes.
func rawTensors(t testing.TB, path string) ([]safetensors.Tensor, map[string]string) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		b, _ := f.Bytes(name)
		ts = append(ts, safetensors.Tensor{Name: name, Shape: info.Shape, DType: info.DType, Raw: slices.Clone(b)})
	}
	return ts, f.Metadata()
}

// TestQuantizedDirErrors: a damaged quantized directory is an error that
// names the file and the tensor (or config.json's field), never a panic.
func TestQuantizedDirErrors(t *testing.T) {
	good := saveQuantizedDir(t, filepath.Join("testdata", "tiny"), Int8)
	ts, meta := rawTensors(t, filepath.Join(good, "model.safetensors"))
	cfg, _ := os.ReadFile(filepath.Join(good, "config.json"))
	edit := func(name string, f func(*safetensors.Tensor)) []safetensors.Tensor {
		out := slices.Clone(ts)
		for i := range out {
			if out[i].Name == name {
				out[i].Raw = slices.Clone(out[i].Raw)
				f(&out[i])
			}
		}
		return out
	}
	drop := func(name string) []safetensors.Tensor {
		return slices.DeleteFunc(slices.Clone(ts), func(x safetensors.Tensor) bool { return x.Name == name })
	}
	nan := math.Float32bits(float32(math.NaN()))
	for _, c := range []struct {
		name    string
		tensors []safetensors.Tensor
		meta    map[string]string
		config  string
		want    string
	}{
		{"missing scale", drop("h.1.mlp.c_fc.weight.scale"), meta, "", `tensor "h.1.mlp.c_fc.weight.scale" is missing`},
		{"missing weight", drop("h.0.attn.c_proj.weight"), meta, "", `tensor "h.0.attn.c_proj.weight" is missing`},
		{"missing head", drop("wte.weight"), meta, "", `tensor "wte.weight" is missing`},
		{"nan scale", edit("h.0.attn.c_attn.weight.scale", func(x *safetensors.Tensor) { binary.LittleEndian.PutUint32(x.Raw[4*5:], nan) }), meta, "",
			`tensor "h.0.attn.c_attn.weight" (rows from 0): row 5: scale NaN`},
		{"nan head scale", edit("wte.weight.scale", func(x *safetensors.Tensor) { binary.LittleEndian.PutUint32(x.Raw[4*99:], nan) }), meta, "",
			`tensor "wte.weight" (rows from 0): row 99: scale NaN`},
		{"-128", edit("h.1.mlp.c_proj.weight", func(x *safetensors.Tensor) { x.Raw[7] = 0x80 }), meta, "",
			`tensor "h.1.mlp.c_proj.weight" (rows from 0): row 0, column 7: value -128 outside [-127, 127]`},
		{"conv1d shape", edit("h.0.mlp.c_fc.weight", func(x *safetensors.Tensor) { x.Shape = []int{64, 256} }), meta, "",
			`tensor "h.0.mlp.c_fc.weight" has shape [64 256], want [256 64]`},
		{"scale shape", edit("h.0.mlp.c_fc.weight.scale", func(x *safetensors.Tensor) { x.Shape = []int{128, 2} }), meta, "",
			`tensor "h.0.mlp.c_fc.weight.scale" has shape [128 2], want [256]`},
		{"float weight", edit("h.0.attn.c_proj.weight", func(x *safetensors.Tensor) {
			x.DType, x.Raw = "F32", make([]byte, 4*64*64)
		}), meta, "", `tensor "h.0.attn.c_proj.weight" has dtype F32, want I8`},
		{"extra tensor", append(slices.Clone(ts), safetensors.Tensor{Name: "h.0.attn.bias", Shape: []int{1}, Data: []float32{1}}), meta, "",
			`unexpected tensor "h.0.attn.bias"`},
		{"metadata precision", ts, map[string]string{"format": "loupe", MetaQuantization: "bf16", MetaFormatVersion: "1"}, "",
			`__metadata__ says loupe.quantization "bf16", loupe.format_version "1", but config.json's quantization_config says precision "int8"`},
		{"no metadata", ts, nil, "", `__metadata__ says loupe.quantization ""`},
		{"format version", ts, meta, strings.Replace(string(cfg), `"format_version": 1`, `"format_version": 2`, 1),
			`quantization_config.format_version 2, want 1`},
		{"other method", ts, meta, strings.Replace(string(cfg), `"quant_method": "loupe"`, `"quant_method": "gptq"`, 1),
			`quantization_config.quant_method "gptq"`},
		{"precision", ts, meta, strings.Replace(string(cfg), `"precision": "int8"`, `"precision": "int4"`, 1),
			`quantization_config.precision "int4", want int8, bf16 or f16`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.safetensors")
			if err := safetensors.WriteFile(path, c.tensors, c.meta); err != nil {
				t.Fatal(err)
			}
			config := c.config
			if config == "" {
				config = string(cfg)
			}
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
			m, err := Load(dir)
			if err == nil {
				m.Close()
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want %q", err, c.want)
			}
		})
	}
	// A truncated file.
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(good, "model.safetensors"))
	os.WriteFile(filepath.Join(dir, "model.safetensors"), b[:len(b)-100], 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("truncated file: %v", err)
	}
}

// FuzzLoadQuantized feeds damaged model.safetensors files (and
// config.json) of a quantized directory to Load: it may fail, with an
// error, but must not panic. (Running what loads is left to the other
// tests: the kernels' thread pool slows fuzzing down to a crawl.)
func FuzzLoadQuantized(f *testing.F) {
	// A very small model, so that mutations often reach the header.
	small, err := Random(Config{NLayer: 1, NHead: 2, NEmbd: 8, NPositions: 4, VocabSize: 6, LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: -1, BOSTokenID: -1}, 1, 0.5)
	if err != nil {
		f.Fatal(err)
	}
	src := f.TempDir()
	if err := small.Save(src, "F32"); err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{Int8, BF16} {
		dir := saveQuantizedDir(f, src, p)
		b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			f.Fatal(err)
		}
		cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		f.Add(b, cfg)
	}
	f.Fuzz(func(t *testing.T, b, cfg []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "model.safetensors"), b, 0o644)
		os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
		m, err := Load(dir)
		if err != nil {
			return
		}
		m.Close()
	})
}

// TestQuantizedDirConcurrentDequantize: goroutines that start the
// differentiable pass at once on a fresh quantized model share one
// dequantized copy and get the same logits (run with -race).
func TestQuantizedDirConcurrentDequantize(t *testing.T) {
	dir := saveQuantizedDir(t, filepath.Join("testdata", "tiny"), BF16)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := teacherIDs(9, m.Config.VocabSize)
	const n = 4
	out := make([][]float32, n)
	errs := make([]error, n)
	done := make(chan int)
	for g := range n {
		go func() {
			defer func() { done <- g }()
			x, err := m.Embed(ids)
			if err != nil {
				errs[g] = err
				return
			}
			p, err := m.ForwardPass(x, 1, len(ids), PassOptions{})
			if err != nil {
				errs[g] = err
				return
			}
			out[g] = p.Logits([]int{len(ids) - 1})
		}()
	}
	for range n {
		<-done
	}
	for g := range n {
		if errs[g] != nil {
			t.Fatal(errs[g])
		}
		if !slices.Equal(out[g], out[0]) {
			t.Errorf("goroutine %d: logits differ by %g", g, maxAbsDiff(out[g], out[0]))
		}
	}
	if m.quant.deq.m == nil || m.float32Model() != m.quant.deq.m {
		t.Error("no shared dequantized model")
	}
}
