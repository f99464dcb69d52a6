package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
	clipm "github.com/loupe-ml/loupe/model/clip"
	"github.com/loupe-ml/loupe/safetensors"
)

// This file holds the test doubles of testdata/pipeline_reference.py: the
// stand-in UNet and VAE (small fixed functions, not models) and the tiny
// random-weight CLIP text encoder, drawn with the torch-exact generator in
// model/clip's weight order.

// fakeUNet is pipeline_reference.py's fake_unet. It also captures a
// deterministic "attention" map (softmax over tokens of a position-dependent
// score) to exercise the explorable's plumbing.
type fakeUNet struct{ calls int }

func (f *fakeUNet) Denoise(in DenoiseInput) (DenoiseOutput, error) {
	f.calls++
	hw := in.Height * in.Width
	per := in.Channels * hw
	out := make([]float32, len(in.Latents))
	a := float32(0.9 + 0.05*math.Cos(in.Timestep/300))
	for b := range in.Batch {
		for c := range in.Channels {
			var s float32
			for k := range in.Tokens {
				s += in.Text[(b*in.Tokens+k)*in.TextDim+c]
			}
			s /= float32(in.Tokens)
			for p := range hw {
				j := b*per + c*hw + p
				x := in.Latents[j]
				out[j] = a*x + 0.1*float32(math.Sin(float64(2*x)+in.Timestep/100)) + 0.2*s
			}
		}
	}
	res := DenoiseOutput{Output: out}
	if in.CaptureAttention {
		m := &AttentionMaps{Height: in.Height, Width: in.Width, Tokens: in.Tokens, Maps: make([]float32, in.Tokens*hw)}
		for p := range hw {
			y, x := p/in.Width, p%in.Width
			var sum float64
			e := make([]float64, in.Tokens)
			for k := range e {
				e[k] = math.Exp(-math.Abs(float64(k%5) - float64(x+y)/float64(in.Width+in.Height)*5))
				sum += e[k]
			}
			for k := range e {
				m.Maps[k*hw+p] = float32(e[k] / sum)
			}
		}
		res.Attention = m
	}
	return res, nil
}

var (
	decMat = [3][4]float32{{0.8, -0.3, 0.2, 0.1}, {0.1, 0.7, -0.4, 0.2}, {-0.2, 0.1, 0.6, 0.5}}
	encMat = [4][3]float32{{0.5, 0.2, -0.1}, {0.1, -0.4, 0.3}, {0.2, 0.2, 0.2}, {-0.3, 0.1, 0.5}}
)

// fakeVAE is fake_decode and fake_encode, with a scale factor of 8.
type fakeVAE struct{}

func (fakeVAE) Decode(z []float32, h, w int) ([]float32, error) {
	if len(z) != 4*h*w {
		return nil, fmt.Errorf("fake decode: %d values for 4×%d×%d", len(z), h, w)
	}
	H, W := 8*h, 8*w
	px := make([]float32, 3*H*W)
	for o := range 3 {
		for Y := range H {
			for X := range W {
				var y float32
				for c := range 4 {
					y += decMat[o][c] * 0.15 * z[(c*h+Y/8)*w+X/8]
				}
				pat := float32(math.Sin(float64(0.3*float32(X) + 0.2*float32(Y) + float32(o))))
				px[(o*H+Y)*W+X] = float32(math.Tanh(float64(y + 0.1*pat)))
			}
		}
	}
	return px, nil
}

func (fakeVAE) Encode(px []float32, H, W int) ([]float32, []float32, error) {
	h, w := H/8, W/8
	pooled := make([]float32, 3*h*w)
	for o := range 3 {
		for y := range h {
			for x := range w {
				var s float64
				for dy := range 8 {
					for dx := range 8 {
						s += float64(px[(o*H+8*y+dy)*W+8*x+dx])
					}
				}
				pooled[(o*h+y)*w+x] = float32(s / 64)
			}
		}
	}
	mean, logvar := make([]float32, 4*h*w), make([]float32, 4*h*w)
	for c := range 4 {
		for p := range h * w {
			var m float32
			for o := range 3 {
				m += encMat[c][o] * 3 * pooled[o*h*w+p]
			}
			mean[c*h*w+p] = m
			logvar[c*h*w+p] = -3 + 0.5*float32(math.Tanh(float64(m)))
		}
	}
	return mean, logvar, nil
}

// initImage is pipeline_reference.py's init_image.
func initImage(w, h int) *Image {
	m := &Image{Width: w, Height: h, Pix: make([]uint8, 3*w*h)}
	for y := range h {
		for x := range w {
			for c := range 3 {
				m.Pix[3*(y*w+x)+c] = uint8((x*7 + y*13 + c*50 + (x*y)%17) % 256)
			}
		}
	}
	return m
}

// writeTinyCLIP writes config.json and model.safetensors of the reference's
// tiny CLIP text encoder (weights drawn as clip_reference.make_weights draws
// them) to a new directory and loads it.
func writeTinyCLIP(t *testing.T, cfgJSON json.RawMessage, seed uint64) *clipm.Model {
	t.Helper()
	cfg, err := clipm.ParseConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	g := noise.NewGenerator(seed)
	var tensors []safetensors.Tensor
	add := func(name string, shape []int, gain bool, scale float32) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := g.Randn(n)
		for i, v := range x {
			v *= scale
			if gain {
				v = 1 + v
			}
			x[i] = v
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, Shape: shape, Data: x})
	}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	add("text_model.embeddings.token_embedding.weight", []int{cfg.VocabSize, H}, false, 1.0)
	add("text_model.embeddings.position_embedding.weight", []int{cfg.MaxPositionEmbeddings, H}, false, 0.5)
	for i := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		for _, pr := range []struct {
			n string
			s float32
		}{{"q_proj", 0.05}, {"k_proj", 0.05}, {"v_proj", 0.03}, {"out_proj", 0.03}} {
			add(p+"self_attn."+pr.n+".weight", []int{H, H}, false, pr.s)
			add(p+"self_attn."+pr.n+".bias", []int{H}, false, 0.02)
		}
		for _, ln := range []string{"layer_norm1", "layer_norm2"} {
			add(p+ln+".weight", []int{H}, true, 0.1)
			add(p+ln+".bias", []int{H}, false, 0.1)
		}
		add(p+"mlp.fc1.weight", []int{I, H}, false, 0.04)
		add(p+"mlp.fc1.bias", []int{I}, false, 0.02)
		add(p+"mlp.fc2.weight", []int{H, I}, false, 0.02)
		add(p+"mlp.fc2.bias", []int{H}, false, 0.02)
	}
	add("text_model.final_layer_norm.weight", []int{H}, true, 0.1)
	add("text_model.final_layer_norm.bias", []int{H}, false, 0.1)
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tensors, nil); err != nil {
		t.Fatal(err)
	}
	m, err := clipm.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
