// Package sdtest writes the tiny random-weight Stable Diffusion pipeline of
// diffusion/pipeline/testdata/pipeline_reference.py to a directory in
// diffusers' layout, for the tests of package diffusion/pipeline and of
// loupe diffuse. The weights are drawn with the torch-exact generator of
// package diffusion/noise in the reference scripts' order (model/clip,
// model/unet and model/vae testdata), so only configurations and seeds are
// stored. It is test support, not a model.
package sdtest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/safetensors"
)

// Reference is the part of pipeline_models.json that describes the models.
type Reference struct {
	ClipConfig     json.RawMessage      `json:"clip_config"`
	ClipSeed       uint64               `json:"clip_seed"`
	UNetConfig     json.RawMessage      `json:"unet_config"`
	UNetSeed       uint64               `json:"unet_seed"`
	RawUNetTensors [][2]json.RawMessage `json:"unet_tensors"`
	VAEConfig      json.RawMessage      `json:"vae_config"`
	VAESeed        uint64               `json:"vae_seed"`
	VAETensors     [][4]json.RawMessage `json:"vae_tensors"`
}

// ReadReference reads pipeline_models.json.
func ReadReference(path string) (*Reference, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// WritePipeline writes the tiny pipeline to dir: model_index.json, the test
// vocabulary of tokenizer/clip as tokenizer/ (vocabDir), text_encoder/,
// scheduler/ (schedulerConfig), unet/ and vae/.
func WritePipeline(dir, vocabDir string, r *Reference, schedulerConfig []byte) error {
	index := `{"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.21.0",
 "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
 "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
 "vae": ["diffusers", "AutoencoderKL"], "safety_checker": [null, null], "feature_extractor": [null, null]}`
	files := map[string][]byte{
		"model_index.json":                []byte(index),
		"scheduler/scheduler_config.json": schedulerConfig,
		"text_encoder/config.json":        r.ClipConfig,
		"unet/config.json":                r.UNetConfig,
		"vae/config.json":                 r.VAEConfig,
	}
	for _, f := range []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(vocabDir, f))
		if err != nil && f != "tokenizer_config.json" && f != "special_tokens_map.json" {
			return err
		}
		if err == nil {
			files["tokenizer/"+f] = b
		}
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	clip, err := clipTensors(r.ClipConfig, r.ClipSeed)
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "text_encoder", "model.safetensors"), clip, nil); err != nil {
		return err
	}
	unet, err := unetTensors(r)
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors"), unet, nil); err != nil {
		return err
	}
	vae, err := vaeTensors(r)
	if err != nil {
		return err
	}
	return safetensors.WriteFile(filepath.Join(dir, "vae", "diffusion_pytorch_model.safetensors"), vae, nil)
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// clipTensors draws model/clip's clip_reference.make_weights.
func clipTensors(cfgJSON json.RawMessage, seed uint64) ([]safetensors.Tensor, error) {
	var cfg struct {
		VocabSize        int `json:"vocab_size"`
		HiddenSize       int `json:"hidden_size"`
		IntermediateSize int `json:"intermediate_size"`
		Layers           int `json:"num_hidden_layers"`
		Positions        int `json:"max_position_embeddings"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, err
	}
	g := noise.NewGenerator(seed)
	var out []safetensors.Tensor
	add := func(name string, shape []int, gain bool, scale float32) {
		x := g.Randn(size(shape))
		for i, v := range x {
			v *= scale
			if gain {
				v = 1 + v
			}
			x[i] = v
		}
		out = append(out, safetensors.Tensor{Name: name, Shape: shape, Data: x})
	}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	add("text_model.embeddings.token_embedding.weight", []int{cfg.VocabSize, H}, false, 1.0)
	add("text_model.embeddings.position_embedding.weight", []int{cfg.Positions, H}, false, 0.5)
	for i := range cfg.Layers {
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
	return out, nil
}

// unetTensors draws model/unet's unet_reference.draw_weights: sorted
// names; norm gains 1 + 0.1·randn, biases 0.05·randn, the rest
// randn/√fan_in.
func unetTensors(r *Reference) ([]safetensors.Tensor, error) {
	g := noise.NewGenerator(r.UNetSeed)
	var out []safetensors.Tensor
	for _, e := range r.RawUNetTensors {
		var name string
		var shape []int
		if err := json.Unmarshal(e[0], &name); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(e[1], &shape); err != nil {
			return nil, err
		}
		x := g.Randn(size(shape))
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
			s := float32(1 / math.Sqrt(float64(size(shape[1:]))))
			for i, v := range x {
				x[i] = v * s
			}
		}
		out = append(out, safetensors.Tensor{Name: name, Shape: shape, Data: x})
	}
	return out, nil
}

// vaeTensors draws model/vae's vae_reference.make_weights: (name, shape,
// kind, scale) in order, randn·scale, plus 1 for gains.
func vaeTensors(r *Reference) ([]safetensors.Tensor, error) {
	g := noise.NewGenerator(r.VAESeed)
	var out []safetensors.Tensor
	for _, e := range r.VAETensors {
		var name, kind string
		var shape []int
		var scale float64
		for i, dst := range []any{&name, &shape, &kind, &scale} {
			if err := json.Unmarshal(e[i], dst); err != nil {
				return nil, err
			}
		}
		x := g.Randn(size(shape))
		s := float32(scale)
		for i, v := range x {
			v *= s
			if kind == "g" {
				v = 1 + v
			}
			x[i] = v
		}
		out = append(out, safetensors.Tensor{Name: name, Shape: shape, Data: x})
	}
	return out, nil
}
