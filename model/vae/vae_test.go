package vae

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/safetensors"
)

// mapSource is a Source over tensors in memory.
type mapSource struct {
	shapes map[string][]int
	values map[string][]float32
}

func (s mapSource) Shape(name string) ([]int, bool) { sh, ok := s.shapes[name]; return sh, ok }
func (s mapSource) Float32(name string) ([]float32, error) {
	return s.values[name], nil
}
func (s mapSource) Names() []string {
	var n []string
	for k := range s.shapes {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// refCase is one model of the golden file: its config, the weights'
// drawing order (written by vae_reference.py's weight_spec) and seeds.
type refCase struct {
	cfgJSON []byte
	cfg     Config
	spec    [][4]any // name, shape, kind ("w" or "g"), scale
	seeds   [3]uint64
	golden  *safetensors.File
	name    string
}

func openCase(t *testing.T, path, name string) refCase {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	md := f.Metadata()
	rc := refCase{cfgJSON: []byte(md[name+".config"]), golden: f, name: name}
	if rc.cfg, err = ParseConfig(rc.cfgJSON); err != nil {
		t.Fatalf("%s config: %v", name, err)
	}
	if err := json.Unmarshal([]byte(md[name+".spec"]), &rc.spec); err != nil {
		t.Fatalf("%s spec: %v", name, err)
	}
	var seeds []uint64
	if err := json.Unmarshal([]byte(md[name+".seeds"]), &seeds); err != nil || len(seeds) != 3 {
		t.Fatalf("%s seeds %q: %v", name, md[name+".seeds"], err)
	}
	copy(rc.seeds[:], seeds)
	return rc
}

func (rc refCase) get(t *testing.T, what string) ([]float32, []int) {
	t.Helper()
	info, ok := rc.golden.Info(rc.name + "." + what)
	if !ok {
		t.Fatalf("golden has no %s.%s", rc.name, what)
	}
	v, err := rc.golden.Float32(rc.name + "." + what)
	if err != nil {
		t.Fatal(err)
	}
	return v, info.Shape
}

// weights draws the reference's random weights with the torch-exact
// generator, in the reference's order.
func (rc refCase) weights(t *testing.T) mapSource {
	t.Helper()
	g := noise.NewGenerator(rc.seeds[0])
	s := mapSource{shapes: map[string][]int{}, values: map[string][]float32{}}
	for _, e := range rc.spec {
		name := e[0].(string)
		var shape []int
		n := 1
		for _, d := range e[1].([]any) {
			shape = append(shape, int(d.(float64)))
			n *= int(d.(float64))
		}
		scale := float32(e[3].(float64))
		x := g.Randn(n)
		for i, v := range x {
			v *= scale
			if e[2] == "g" {
				v = 1 + v
			}
			x[i] = v
		}
		s.shapes[name], s.values[name] = shape, x
	}
	return s
}

// relErr is max |got − want| / max |want|.
func relErr(t *testing.T, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	var d, s float64
	for i := range got {
		d = max(d, math.Abs(float64(got[i]-want[i])))
		s = max(s, math.Abs(float64(want[i])))
	}
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d / s
}

const tol = 1e-4

// checkCase runs Decode, Encode and Sample on a reference model and
// compares with PyTorch.
func checkCase(t *testing.T, rc refCase, m *Model) {
	t.Helper()
	latents, ls := rc.get(t, "latents")
	start := time.Now()
	dec, err := m.Decode(latents, ls[0], ls[2], ls[3])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: Decode %v in %v", rc.name, ls, time.Since(start).Round(time.Millisecond))
	want, _ := rc.get(t, "decoded")
	if e := relErr(t, dec, want); e > tol {
		t.Errorf("%s: Decode differs from PyTorch by %.3g relative (bound %g)", rc.name, e, tol)
	} else {
		t.Logf("%s: Decode max |Go − PyTorch| / max |PyTorch| = %.3g", rc.name, e)
	}
	if info, ok := rc.golden.Info(rc.name + ".tiled_latents"); ok {
		tz, _ := rc.get(t, "tiled_latents")
		got, err := m.DecodeTiled(tz, info.Shape[0], info.Shape[2], info.Shape[3])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := rc.get(t, "tiled")
		if e := relErr(t, got, want); e > tol {
			t.Errorf("%s: DecodeTiled of %v differs from PyTorch by %.3g relative", rc.name, info.Shape, e)
		} else {
			t.Logf("%s: DecodeTiled %v relative error %.3g", rc.name, info.Shape, e)
		}
		small, err := m.DecodeTiled(latents, ls[0], ls[2], ls[3])
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(t, small, dec); e > 1e-6 {
			t.Errorf("%s: DecodeTiled of latents within one tile differs from Decode", rc.name)
		}
	}
	if info, ok := rc.golden.Info(rc.name + ".tiled_pixels"); ok {
		tp, _ := rc.get(t, "tiled_pixels")
		post, err := m.EncodeTiled(tp, info.Shape[0], info.Shape[2], info.Shape[3])
		if err != nil {
			t.Fatal(err)
		}
		wantMean, ms := rc.get(t, "tiled_mean")
		wantLogvar, _ := rc.get(t, "tiled_logvar")
		if post.H != ms[2] || post.W != ms[3] {
			t.Errorf("%s: EncodeTiled of %v gives %d×%d latents, want %v", rc.name, info.Shape, post.H, post.W, ms)
		}
		for _, c := range []struct {
			what      string
			got, want []float32
		}{{"mean", post.Mean, wantMean}, {"logvar", post.LogVar, wantLogvar}} {
			if e := relErr(t, c.got, c.want); e > tol {
				t.Errorf("%s: EncodeTiled %s differs from PyTorch by %.3g relative", rc.name, c.what, e)
			} else {
				t.Logf("%s: EncodeTiled %v %s relative error %.3g", rc.name, info.Shape, c.what, e)
			}
		}
	}
	pixels, ps := rc.get(t, "pixels")
	post, err := m.Encode(pixels, ps[0], ps[2], ps[3])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		got  []float32
	}{
		{"mean", post.Mean}, {"logvar", post.LogVar},
		{"sample", post.Sample(noise.NewGenerator(rc.seeds[2]))},
	} {
		want, _ := rc.get(t, c.what)
		if e := relErr(t, c.got, want); e > tol {
			t.Errorf("%s: Encode %s differs from PyTorch by %.3g relative (bound %g)", rc.name, c.what, e, tol)
		} else {
			t.Logf("%s: Encode %s relative error %.3g", rc.name, c.what, e)
		}
	}
	var gens []*noise.Generator
	for i := range post.Batch {
		gens = append(gens, noise.NewGenerator(rc.seeds[2]+uint64(i)))
	}
	each, err := post.SampleEach(gens)
	if err != nil {
		t.Fatal(err)
	}
	want, _ = rc.get(t, "sample_each")
	if e := relErr(t, each, want); e > tol {
		t.Errorf("%s: SampleEach differs from PyTorch by %.3g relative", rc.name, e)
	}
	if _, err := post.SampleEach(gens[:0]); err == nil {
		t.Error("SampleEach with no generators succeeded")
	}
	if !slices.Equal(post.Mode(), post.Mean) {
		t.Errorf("Mode is not the mean")
	}
}

func TestMatchesTorch(t *testing.T) {
	for _, name := range []string{"tiny", "tiny3"} {
		t.Run(name, func(t *testing.T) {
			rc := openCase(t, filepath.Join("testdata", "golden.safetensors"), name)
			m, err := FromSource(rc.cfg, rc.weights(t))
			if err != nil {
				t.Fatal(err)
			}
			checkCase(t, rc, m)
		})
	}
}

// TestFullWidth runs SD's real VAE widths ([128, 256, 512, 512], 2 layers,
// 32 groups) on a 64×64 image, with goldens the reference script writes at
// test time. Opt in with LOUPE_VAE_FULL=1 (PyTorch needed; about a minute).
func TestFullWidth(t *testing.T) {
	if os.Getenv("LOUPE_VAE_FULL") != "1" {
		t.Skip("set LOUPE_VAE_FULL=1 (needs /usr/bin/python3 with torch)")
	}
	out := filepath.Join(t.TempDir(), "full.safetensors")
	cmd := exec.Command("/usr/bin/python3", filepath.Join("testdata", "vae_reference.py"), "--full", out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reference: %v", err)
	}
	rc := openCase(t, out, "full")
	m, err := FromSource(rc.cfg, rc.weights(t))
	if err != nil {
		t.Fatal(err)
	}
	checkCase(t, rc, m)
}

// writeDir writes a diffusers vae/ directory: config.json and the weights
// in dtype under file.
func writeDir(t *testing.T, rc refCase, src mapSource, dtype, file string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), rc.cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range src.Names() {
		ts = append(ts, safetensors.Tensor{Name: n, Shape: src.shapes[n], Data: src.values[n], DType: dtype})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, file), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadDir loads F32, F16 and BF16 files from a directory: the 16-bit
// ones must give the outputs of float32 weights rounded the same way, and
// the F32 file those of the in-memory weights.
func TestLoadDir(t *testing.T) {
	rc := openCase(t, filepath.Join("testdata", "golden.safetensors"), "tiny")
	src := rc.weights(t)
	latents, ls := rc.get(t, "latents")
	decode := func(m *Model) []float32 {
		out, err := m.Decode(latents, ls[0], ls[2], ls[3])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, c := range []struct {
		dtype, file, variant string
		round                func(float32) float32
	}{
		{"F32", "diffusion_pytorch_model.safetensors", "", func(v float32) float32 { return v }},
		{"F16", "diffusion_pytorch_model.fp16.safetensors", "fp16", func(v float32) float32 {
			return safetensors.HalfToFloat32(safetensors.Float32ToHalf(v))
		}},
		{"BF16", "diffusion_pytorch_model.safetensors", "", func(v float32) float32 {
			return safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(v))
		}},
	} {
		t.Run(c.dtype, func(t *testing.T) {
			dir := writeDir(t, rc, src, c.dtype, c.file)
			m, err := Load(dir, c.variant)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			rounded := mapSource{shapes: src.shapes, values: map[string][]float32{}}
			for n, v := range src.values {
				r := make([]float32, len(v))
				for i, x := range v {
					r[i] = c.round(x)
				}
				rounded.values[n] = r
			}
			ref, err := FromSource(rc.cfg, rounded)
			if err != nil {
				t.Fatal(err)
			}
			// the kernels' parallel sums may differ run to run in the last
			// bits; a wrong rounding of the weights differs by ~1e-3
			if e := relErr(t, decode(m), decode(ref)); e > 1e-5 {
				t.Errorf("%s file decodes differently from the same weights in float32: %.3g relative", c.dtype, e)
			}
		})
	}
}

// TestLegacyAttentionNames loads the mid-block attention under the names
// older checkpoints use (query, key, value, proj_attn) as 1×1 convolution
// weights: the outputs must not change.
func TestLegacyAttentionNames(t *testing.T) {
	rc := openCase(t, filepath.Join("testdata", "golden.safetensors"), "tiny")
	src := rc.weights(t)
	old := mapSource{shapes: map[string][]int{}, values: map[string][]float32{}}
	r := strings.NewReplacer("to_q.", "query.", "to_k.", "key.", "to_v.", "value.", "to_out.0.", "proj_attn.")
	for n, v := range src.values {
		sh := src.shapes[n]
		if strings.Contains(n, "attentions.0.to_") {
			n = r.Replace(n)
			if len(sh) == 2 {
				sh = []int{sh[0], sh[1], 1, 1}
			}
		}
		old.shapes[n], old.values[n] = sh, v
	}
	m, err := FromSource(rc.cfg, old)
	if err != nil {
		t.Fatal(err)
	}
	checkCase(t, rc, m)
}

func TestLoadErrors(t *testing.T) {
	rc := openCase(t, filepath.Join("testdata", "golden.safetensors"), "tiny")
	base := rc.weights(t)
	edit := func(f func(s mapSource)) mapSource {
		s := mapSource{shapes: map[string][]int{}, values: map[string][]float32{}}
		for n := range base.shapes {
			s.shapes[n], s.values[n] = base.shapes[n], base.values[n]
		}
		f(s)
		return s
	}
	for _, c := range []struct {
		name string
		src  mapSource
		want string
	}{
		{"missing", edit(func(s mapSource) { delete(s.shapes, "decoder.conv_out.bias") }), `"decoder.conv_out.bias" is missing`},
		{"shape", edit(func(s mapSource) { s.shapes["encoder.conv_in.weight"] = []int{32, 3, 1, 1} }), `"encoder.conv_in.weight" has shape [32 3 1 1], want [32 3 3 3]`},
		{"extra", edit(func(s mapSource) {
			s.shapes["decoder.up_blocks.1.resnets.2.norm1.weight"] = []int{32}
			s.values["decoder.up_blocks.1.resnets.2.norm1.weight"] = make([]float32, 32)
		}), `unexpected tensor "decoder.up_blocks.1.resnets.2.norm1.weight"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromSource(rc.cfg, c.src)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %s", err, c.want)
			}
		})
	}
	m, err := FromSource(rc.cfg, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Decode(make([]float32, 10), 1, 8, 8); err == nil {
		t.Error("Decode of a short input succeeded")
	}
	if _, err := m.Encode(make([]float32, 3*15*16), 1, 15, 16); err == nil {
		t.Error("Encode of a 15-pixel side (factor 2) succeeded")
	}
	if _, err := Load(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("Load of an empty directory: %v", err)
	}
}

func TestConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"block_out_channels":[128,256,512,512],"down_block_types":["DownEncoderBlock2D","DownEncoderBlock2D","DownEncoderBlock2D","DownEncoderBlock2D"],"up_block_types":["UpDecoderBlock2D","UpDecoderBlock2D","UpDecoderBlock2D","UpDecoderBlock2D"],"layers_per_block":2,"shift_factor":null}`))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if l, err := ParseConfig([]byte(`{"sample_size":[768,512]}`)); err != nil || l.SampleSize != 768 {
		t.Errorf("sample_size [768, 512]: %d, %v", l.SampleSize, err)
	}
	if c.SampleSize != 32 || d.SampleSize != 512 {
		t.Errorf("sample_size %d (want the default 32), DefaultConfig's %d", c.SampleSize, d.SampleSize)
	}
	if c.Factor() != 8 || c.ScalingFactor != 0.18215 || c.ShiftFactor != nil || !c.UseQuantConv || !c.MidBlockAddAttention ||
		!slices.Equal(c.BlockOutChannels, d.BlockOutChannels) || c.LayersPerBlock != d.LayersPerBlock {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []struct{ json, want string }{
		{`{"_class_name":"AutoencoderTiny"}`, "_class_name"},
		{`{"block_out_channels":[64,128]}`, "down_block_types"},
		{`{"norm_num_groups":7}`, "norm_num_groups"},
		{`{"act_fn":"gelu"}`, "act_fn"},
		{`{"scaling_factor":0}`, "scaling_factor"},
		{`{"latents_mean":[0,0,0,0],"latents_std":[1,1,1,1]}`, "latents_mean"},
		{`{"up_block_types":["AttnUpDecoderBlock2D"]}`, "up_block_types[0]"},
		{`{"sample_size":"big"}`, "sample_size"},
		{`{"sample_size":0}`, "sample_size"},
		{`[1]`, "config.json"},
	} {
		if _, err := ParseConfig([]byte(bad.json)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseConfig(%s): %v, want an error naming %s", bad.json, err, bad.want)
		}
	}
}

func TestScale(t *testing.T) {
	shift := 0.0609
	m := &Model{Config: Config{ScalingFactor: 0.13025, ShiftFactor: &shift}}
	z := []float32{-1, 0, 0.5, 2}
	orig := slices.Clone(z)
	m.Scale(z)
	if math.Abs(float64(z[3])-(2-0.0609)*0.13025) > 1e-6 {
		t.Errorf("Scale(2) = %g", z[3])
	}
	m.Unscale(z)
	for i := range z {
		if math.Abs(float64(z[i]-orig[i])) > 1e-6 {
			t.Errorf("Unscale(Scale(%g)) = %g", orig[i], z[i])
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"block_out_channels":[32,64],"down_block_types":["DownEncoderBlock2D","DownEncoderBlock2D"],"up_block_types":["UpDecoderBlock2D","UpDecoderBlock2D"],"norm_num_groups":8}`))
	f.Add([]byte(`{"shift_factor":null,"latents_mean":null}`))
	f.Add([]byte(`{"block_out_channels":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if c.Factor() < 1 || len(c.UpBlockTypes) != len(c.BlockOutChannels) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// TestAttentionTiles scores the attention in tiles of 7 query pixels (64
// pixels: nine full tiles and one of 1) instead of one tile.
func TestAttentionTiles(t *testing.T) {
	defer func(r int) { attnRows = r }(attnRows)
	attnRows = 7
	rc := openCase(t, filepath.Join("testdata", "golden.safetensors"), "tiny")
	m, err := FromSource(rc.cfg, rc.weights(t))
	if err != nil {
		t.Fatal(err)
	}
	checkCase(t, rc, m)
}
