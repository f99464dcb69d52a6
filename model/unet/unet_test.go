package unet

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/safetensors"
)

// refCase is testdata/NAME/case.json, written by unet_reference.py.
type refCase struct {
	Config     json.RawMessage `json:"config"`
	Batch      int             `json:"batch"`
	Height     int             `json:"height"`
	Width      int             `json:"width"`
	Seq        int             `json:"seq"`
	Timesteps  []float64       `json:"timesteps"`
	Seed       uint64          `json:"seed"`
	Tensors    [][2]any        `json:"tensors"`
	AttnLayers []string        `json:"attn_layers"`
	OutScale   float64         `json:"out_scale"`
}

func readCase(t testing.TB, dir string) refCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c refCase
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// drawWeights mirrors draw_weights in unet_reference.py: torch.randn from
// one generator, in the sorted order of the names, scaled by kind.
func drawWeights(t testing.TB, c refCase, dtype string) []safetensors.Tensor {
	t.Helper()
	g := noise.NewGenerator(c.Seed)
	var out []safetensors.Tensor
	for _, e := range c.Tensors {
		name := e[0].(string)
		var shape []int
		n := 1
		for _, d := range e[1].([]any) {
			shape = append(shape, int(d.(float64)))
			n *= int(d.(float64))
		}
		x := g.Randn(n)
		switch {
		case strings.Contains(name, "norm") && strings.HasSuffix(name, ".weight"):
			for i, v := range x {
				x[i] = 1 + v*0.1
			}
		case strings.HasSuffix(name, ".bias"):
			for i, v := range x {
				x[i] = v * 0.05
			}
		default:
			s := float32(1 / math.Sqrt(float64(n/shape[0])))
			for i, v := range x {
				x[i] = v * s
			}
		}
		out = append(out, safetensors.Tensor{Name: name, Shape: shape, Data: x, DType: dtype})
	}
	return out
}

// writeUNet writes config.json and the weights under file into a new directory.
func writeUNet(t testing.TB, c refCase, dtype, file string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), c.Config, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, file), drawWeights(t, c, dtype), nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readNpy(t testing.TB, path string) []float32 {
	t.Helper()
	x, _, _, err := npy.ReadFloat32(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func caseInput(t testing.TB, dir string, c refCase) Input {
	return Input{
		Sample: readNpy(t, filepath.Join(dir, "sample.npy")), Batch: c.Batch, Height: c.Height, Width: c.Width,
		Timesteps: c.Timesteps, Encoder: readNpy(t, filepath.Join(dir, "encoder.npy")), Seq: c.Seq,
	}
}

// TestMatchesTorch compares the output and the cross-attention maps with
// the PyTorch reference for each tiny configuration, with float32 weights
// and with F16 and BF16 files (against the reference run on the same
// rounded weights).
func TestMatchesTorch(t *testing.T) {
	for _, name := range []string{"sd1", "sd2", "odd"} {
		for _, tc := range []struct {
			dtype, file, golden string
		}{
			{"F32", "diffusion_pytorch_model.safetensors", "out.npy"},
			{"F16", "diffusion_pytorch_model.fp16.safetensors", "out_f16.npy"},
			{"BF16", "diffusion_pytorch_model.safetensors", "out_bf16.npy"},
		} {
			t.Run(name+"/"+tc.dtype, func(t *testing.T) {
				td := filepath.Join("testdata", name)
				c := readCase(t, td)
				m, err := Load(writeUNet(t, c, tc.dtype, tc.file))
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if m.Precision() != tc.dtype {
					t.Errorf("Precision() = %s, want %s", m.Precision(), tc.dtype)
				}
				in := caseInput(t, td, c)
				capture := tc.dtype == "F32"
				out, err := m.Forward(nil, in, Options{CrossAttention: capture})
				if err != nil {
					t.Fatal(err)
				}
				want := readNpy(t, filepath.Join(td, tc.golden))
				if len(out.Sample) != len(want) {
					t.Fatalf("output has %d values, want %d", len(out.Sample), len(want))
				}
				rel := maxDiff(out.Sample, want) / c.OutScale
				t.Logf("max abs diff %.3g relative to output scale %.3g", rel, c.OutScale)
				if rel > 1e-4 {
					t.Errorf("output differs from PyTorch by %.3g of its scale, want ≤ 1e-4", rel)
				}
				if !capture {
					return
				}
				if got := m.CrossAttentionLayers(); strings.Join(got, ",") != strings.Join(c.AttnLayers, ",") {
					t.Fatalf("CrossAttentionLayers() = %v, want %v", got, c.AttnLayers)
				}
				var flat []float32
				for l := range c.AttnLayers {
					for b := range c.Batch {
						am := out.CrossAttention[b][l]
						if am.Layer != c.AttnLayers[l] || am.Tokens != c.Seq || len(am.Probs) != am.Height*am.Width*am.Tokens {
							t.Fatalf("map [%d][%d] = %s %dx%dx%d, want layer %s", b, l, am.Layer, am.Height, am.Width, am.Tokens, c.AttnLayers[l])
						}
						flat = append(flat, am.Probs...)
					}
				}
				wantA := readNpy(t, filepath.Join(td, "attn.npy"))
				if len(flat) != len(wantA) {
					t.Fatalf("cross-attention maps hold %d values, want %d", len(flat), len(wantA))
				}
				if d := maxDiff(flat, wantA); d > 1e-5 {
					t.Errorf("cross-attention probabilities differ by %.3g, want ≤ 1e-5", d)
				}
			})
		}
	}
}

// TestSteadyState checks that a second call of the same geometry gives the
// same result (buffers reused, nothing stale) and allocates little.
func TestSteadyState(t *testing.T) {
	td := filepath.Join("testdata", "sd1")
	c := readCase(t, td)
	m, err := Load(writeUNet(t, c, "F32", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	in := caseInput(t, td, c)
	first, err := m.Forward(nil, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A different geometry in between, then the first again.
	odd := in
	odd.Batch, odd.Height, odd.Width = 1, 7, 5
	odd.Sample = make([]float32, 4*7*5)
	odd.Encoder = in.Encoder[:c.Seq*32]
	odd.Timesteps = in.Timesteps[:1]
	if _, err := m.Forward(nil, odd, Options{}); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, len(first.Sample))
	allocs := testing.AllocsPerRun(2, func() {
		if _, err := m.Forward(dst, in, Options{}); err != nil {
			t.Fatal(err)
		}
	})
	// Bit for bit: the kernels add their sums in the same order on every
	// call, whatever the threads do.
	if d := maxDiff(dst, first.Sample); d != 0 {
		t.Errorf("second call differs by %g", d)
	}
	t.Logf("%.0f allocations per call", allocs)
}

// TestTrim checks that a model whose buffers and mapped weight pages were
// released (Trim, as a pipeline does before the VAE decodes) computes
// the same bits on its next call, for float32 and float16 files.
func TestTrim(t *testing.T) {
	td := filepath.Join("testdata", "sd1")
	c := readCase(t, td)
	in := caseInput(t, td, c)
	for _, dtype := range []string{"F32", "F16"} {
		m, err := Load(writeUNet(t, c, dtype, "diffusion_pytorch_model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		before, err := m.Forward(nil, in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := append([]float32(nil), before.Sample...)
		for range 2 {
			if err := m.Trim(); err != nil {
				t.Fatalf("%s: Trim: %v", dtype, err)
			}
			after, err := m.Forward(nil, in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(after.Sample, want); d != 0 {
				t.Errorf("%s: after Trim the output differs by %g", dtype, d)
			}
		}
		m.Close()
	}
}

// TestForwardErrors checks that bad inputs are errors that say what was wrong.
func TestForwardErrors(t *testing.T) {
	td := filepath.Join("testdata", "sd1")
	c := readCase(t, td)
	m, err := Load(writeUNet(t, c, "F32", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	good := caseInput(t, td, c)
	for _, tc := range []struct {
		name string
		edit func(*Input)
		opt  Options
		want string
	}{
		{"channels", func(in *Input) { in.Sample = in.Sample[:len(in.Sample)/4*3] }, Options{}, "in_channels 4"},
		{"encoder width", func(in *Input) { in.Encoder = in.Encoder[:len(in.Encoder)/2]; in.Seq = c.Seq }, Options{}, "cross_attention_dim 32"},
		{"seq", func(in *Input) { in.Seq = 0 }, Options{}, "encoder"},
		{"timesteps", func(in *Input) { in.Timesteps = []float64{1, 2, 3} }, Options{}, "timesteps"},
		{"nan timestep", func(in *Input) { in.Timesteps = []float64{math.NaN()} }, Options{}, "finite"},
		{"no batch", func(in *Input) { in.Batch = 0 }, Options{}, "positive"},
		{"layer", func(in *Input) {}, Options{CrossAttention: true, Layers: []string{"mid_block.attn2"}}, "no cross-attention layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good
			tc.edit(&in)
			_, err := m.Forward(nil, in, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := m.Forward(make([]float32, 3), good, Options{}); err == nil || !strings.Contains(err.Error(), "dst") {
		t.Errorf("short dst: error %v", err)
	}
	// Selected layers only.
	name := m.CrossAttentionLayers()[1]
	out, err := m.Forward(nil, good, Options{CrossAttention: true, Layers: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CrossAttention) != c.Batch || len(out.CrossAttention[0]) != 1 || out.CrossAttention[0][0].Layer != name {
		t.Errorf("selected layer %s: got %d×%d maps", name, len(out.CrossAttention), len(out.CrossAttention[0]))
	}
}

// TestLoadErrors checks that mismatched weights and configs name the
// tensor or field.
func TestLoadErrors(t *testing.T) {
	c := readCase(t, filepath.Join("testdata", "sd1"))
	tensors := drawWeights(t, c, "F32")
	write := func(cfg []byte, ts []safetensors.Tensor) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
		if ts != nil {
			if err := safetensors.WriteFile(filepath.Join(dir, "diffusion_pytorch_model.safetensors"), ts, nil); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	var cfg map[string]any
	json.Unmarshal(c.Config, &cfg)
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for a, b := range cfg {
			m[a] = b
		}
		m[k] = v
		b, _ := json.Marshal(m)
		return b
	}
	missing := append([]safetensors.Tensor(nil), tensors[1:]...)
	extra := append(append([]safetensors.Tensor(nil), tensors...), safetensors.Tensor{Name: "foo.weight", Shape: []int{1}, Data: []float32{1}})
	for _, tc := range []struct {
		name string
		dir  string
		want string
	}{
		{"missing tensor", write(c.Config, missing), tensors[0].Name},
		{"extra tensor", write(c.Config, extra), "foo.weight"},
		{"cross dim", write(with("cross_attention_dim", 64), tensors), "attn2.to_k.weight"},
		{"no weights", write(c.Config, nil), "no diffusion_pytorch_model"},
		{"heads", write(with("attention_head_dim", 3), tensors), "attention_head_dim"},
		{"class embed", write(with("class_embed_type", "timestep"), tensors), "class_embed_type"},
		{"block type", write(with("down_block_types", []string{"CrossAttnDownBlock2D", "AttnDownBlock2D", "DownBlock2D"}), tensors), "down_block_types[1]"},
		{"levels", write(with("up_block_types", []string{"UpBlock2D"}), tensors), "up_block_types"},
		{"groups", write(with("norm_num_groups", 5), tensors), "norm_num_groups"},
		{"time cond", write(with("time_cond_proj_dim", 256), tensors), "time_cond_proj_dim"},
		{"layers list", write(with("layers_per_block", []int{1, 2}), tensors), "layers_per_block"},
		{"not json", write([]byte("{"), tensors), "config.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestParseConfigSD checks the head counts diffusers derives from SD 1.5's
// and SD 2.1's config.json.
func TestParseConfigSD(t *testing.T) {
	sd15 := `{"_class_name":"UNet2DConditionModel","_diffusers_version":"0.6.0","act_fn":"silu","attention_head_dim":8,
"block_out_channels":[320,640,1280,1280],"center_input_sample":false,"cross_attention_dim":768,
"down_block_types":["CrossAttnDownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D","DownBlock2D"],
"downsample_padding":1,"flip_sin_to_cos":true,"freq_shift":0,"in_channels":4,"layers_per_block":2,
"mid_block_scale_factor":1,"norm_eps":1e-05,"norm_num_groups":32,"out_channels":4,"sample_size":64,
"up_block_types":["UpBlock2D","CrossAttnUpBlock2D","CrossAttnUpBlock2D","CrossAttnUpBlock2D"]}`
	sd21 := `{"_class_name":"UNet2DConditionModel","act_fn":"silu","attention_head_dim":[5,10,20,20],
"block_out_channels":[320,640,1280,1280],"center_input_sample":false,"class_embed_type":null,"cross_attention_dim":1024,
"down_block_types":["CrossAttnDownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D","DownBlock2D"],
"downsample_padding":1,"dual_cross_attention":false,"flip_sin_to_cos":true,"freq_shift":0,"in_channels":4,
"layers_per_block":2,"mid_block_scale_factor":1,"mid_block_type":"UNetMidBlock2DCrossAttn","norm_eps":1e-05,
"norm_num_groups":32,"num_class_embeds":null,"only_cross_attention":false,"out_channels":4,
"resnet_time_scale_shift":"default","sample_size":96,"up_block_types":["UpBlock2D","CrossAttnUpBlock2D","CrossAttnUpBlock2D","CrossAttnUpBlock2D"],
"upcast_attention":true,"use_linear_projection":true}`
	for _, tc := range []struct {
		name, json string
		dims       []int // head dims per level
		linear     bool
	}{
		{"sd15", sd15, []int{40, 80, 160, 160}, false},
		{"sd21", sd21, []int{64, 64, 64, 64}, true},
	} {
		c, err := ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, h := range c.Heads {
			if d := c.BlockOutChannels[i] / h; d != tc.dims[i] {
				t.Errorf("%s: level %d head dim %d, want %d", tc.name, i, d, tc.dims[i])
			}
		}
		if c.UseLinearProjection != tc.linear || c.LayersPerBlock[3] != 2 || c.TimeEmbedDim() != 1280 {
			t.Errorf("%s: parsed %+v", tc.name, c)
		}
	}
}

// FuzzParseConfig checks that no config.json makes ParseConfig panic and
// that an accepted one validates.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"sd1", "sd2", "odd"} {
		b, err := os.ReadFile(filepath.Join("testdata", name, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"attention_head_dim":[1,2],"block_out_channels":[0]}`))
	f.Add([]byte(`{"layers_per_block":1.5}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
			}
		}
	})
}

// TestTiling runs the references with the smallest attention tiles (16
// query rows) and feed-forward chunks (64 rows), so that several tiles and
// chunks, and their ragged ends, are exercised.
func TestTiling(t *testing.T) {
	oldT, oldF := tileScores, ffChunk
	tileScores, ffChunk = 1, 1
	defer func() { tileScores, ffChunk = oldT, oldF }()
	for _, name := range []string{"sd1", "odd"} {
		td := filepath.Join("testdata", name)
		c := readCase(t, td)
		m, err := Load(writeUNet(t, c, "F32", "diffusion_pytorch_model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Forward(nil, caseInput(t, td, c), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rel := maxDiff(out.Sample, readNpy(t, filepath.Join(td, "out.npy"))) / c.OutScale; rel > 1e-4 {
			t.Errorf("%s: output differs from PyTorch by %.3g of its scale, want ≤ 1e-4", name, rel)
		}
	}
}

// mapSource is a Source over float32 tensors in memory, as a renamed
// CompVis checkpoint would be.
type mapSource map[string]safetensors.Tensor

func (s mapSource) Shape(name string) ([]int, bool) {
	t, ok := s[name]
	return t.Shape, ok
}

func (s mapSource) Float32(name string) ([]float32, error) { return s[name].Data, nil }

// TestFromSourceProjShapes loads the SD 1.x-style test model from memory
// with proj_in/proj_out stored as [C, C] (a Linear's shape) instead of the
// 1×1 conv's [C, C, 1, 1]: the numbers are the same, and so must the output be.
func TestFromSourceProjShapes(t *testing.T) {
	td := filepath.Join("testdata", "sd1")
	c := readCase(t, td)
	src := mapSource{}
	for _, x := range drawWeights(t, c, "F32") {
		if strings.Contains(x.Name, ".proj_") && strings.HasSuffix(x.Name, ".weight") {
			x.Shape = x.Shape[:2]
		}
		src[x.Name] = x
	}
	cfg, err := ParseConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromSource(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(nil, caseInput(t, td, c), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rel := maxDiff(out.Sample, readNpy(t, filepath.Join(td, "out.npy"))) / c.OutScale; rel > 1e-4 {
		t.Errorf("output differs from PyTorch by %.3g of its scale", rel)
	}
}

// TestAverageMaps checks the token-major average of the maps at one
// resolution against the per-layer maps.
func TestAverageMaps(t *testing.T) {
	maps := []AttentionMap{
		{Layer: "a", Height: 1, Width: 2, Tokens: 3, Probs: []float32{0.2, 0.3, 0.5, 1, 0, 0}},
		{Layer: "b", Height: 2, Width: 2, Tokens: 3, Probs: make([]float32, 12)},
		{Layer: "c", Height: 1, Width: 2, Tokens: 3, Probs: []float32{0.4, 0.1, 0.5, 0, 0, 1}},
	}
	got, n := AverageMaps(maps, 1, 2)
	want := []float32{0.3, 0.5, 0.2, 0, 0.5, 0.5} // [token][position]
	if n != 2 || maxDiff(got, want) > 1e-7 {
		t.Errorf("AverageMaps = %v over %d layers, want %v over 2", got, n, want)
	}
	if got, n := AverageMaps(maps, 3, 3); got != nil || n != 0 {
		t.Errorf("no map at 3x3: got %v, %d", got, n)
	}
}

// TestParseConfigFields checks fields that are accepted although they are
// not SD's usual spelling, and ones that are refused.
func TestParseConfigFields(t *testing.T) {
	base := `"block_out_channels":[32,64],"norm_num_groups":8,"down_block_types":["CrossAttnDownBlock2D","DownBlock2D"],"up_block_types":["UpBlock2D","CrossAttnUpBlock2D"],"attention_head_dim":2`
	for _, tc := range []struct {
		extra, err string
	}{
		{`"only_cross_attention":[false,false]`, ""},
		{`"dropout":0.1,"resnet_out_scale_factor":2,"cross_attention_norm":"group_norm","act_fn":"swish","some_future_field":1`, ""},
		{`"only_cross_attention":[false,true]`, "only_cross_attention"},
		{`"mid_block_type":null`, "mid_block_type"},
		{`"mid_block_type":"UNetMidBlock2D"`, "mid_block_type"},
		{`"cross_attention_dim":[32,32]`, "cross_attention_dim"},
		{`"attention_type":"gated"`, "attention_type"},
		{`"resnet_time_scale_shift":"scale_shift"`, "resnet_time_scale_shift"},
		{`"freq_shift":16`, "freq_shift"},
		{`"layers_per_block":0`, "layers_per_block[0]"},
		{`"norm_eps":0`, "norm_eps"},
	} {
		_, err := ParseConfig([]byte("{" + base + "," + tc.extra + "}"))
		if tc.err == "" && err != nil {
			t.Errorf("%s: %v", tc.extra, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want one naming %s", tc.extra, err, tc.err)
		}
	}
}
