package sdfiles_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/diffusion/sdfiles"
)

func ExampleParseModelIndex() {
	x, err := sdfiles.ParseModelIndex("model_index.json", []byte(`{
	  "_class_name": "StableDiffusionPipeline",
	  "_diffusers_version": "0.6.0",
	  "safety_checker": [null, null],
	  "scheduler": ["diffusers", "PNDMScheduler"],
	  "text_encoder": ["transformers", "CLIPTextModel"],
	  "tokenizer": ["transformers", "CLIPTokenizer"],
	  "unet": ["diffusers", "UNet2DConditionModel"],
	  "vae": ["diffusers", "AutoencoderKL"],
	  "requires_safety_checker": false
	}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(x.ClassName, len(x.Components), x.Components["scheduler"].Class)
	fmt.Println(x.CheckStableDiffusion())
	// Output:
	// StableDiffusionPipeline 5 PNDMScheduler
	// <nil>
}

func ExampleWeightFiles() {
	for _, f := range sdfiles.WeightFiles("diffusion_pytorch_model", "fp16") {
		fmt.Println(f)
	}
	// Output:
	// diffusion_pytorch_model.fp16.safetensors
	// diffusion_pytorch_model.safetensors.index.fp16.json
	// diffusion_pytorch_model.safetensors
	// diffusion_pytorch_model.safetensors.index.json
	// diffusion_pytorch_model.bin
	// diffusion_pytorch_model.bin.index.json
}
