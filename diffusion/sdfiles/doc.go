// Package sdfiles finds the files of a Stable Diffusion model in the two
// forms people have them, and presents them to the model packages
// (model/clip, model/unet, model/vae) under diffusers' names.
//
// # The diffusers layout
//
// A pipeline folder (or hub repository) holds model_index.json, naming the
// pipeline class and each component's library and class, and one folder
// per component:
//
//	model_index.json     {"_class_name": "StableDiffusionPipeline",
//	                      "unet": ["diffusers", "UNet2DConditionModel"], ...}
//	text_encoder/        config.json, model.safetensors (transformers' CLIPTextModel)
//	tokenizer/           vocab.json, merges.txt, tokenizer_config.json
//	unet/                config.json, diffusion_pytorch_model.safetensors
//	vae/                 config.json, diffusion_pytorch_model.safetensors
//	scheduler/           scheduler_config.json
//
// Open takes a folder or a hub id (ORG/NAME[@REVISION], resolved through
// package hub and the Hugging Face cache, offline when HF_HUB_OFFLINE=1),
// checks model_index.json (CheckStableDiffusion names the class or
// component that is not Stable Diffusion 1.x/2.x) and that every component
// has its config and weights, and for a hub id fetches only those files:
//
//	p, err := sdfiles.Open(ctx, "stable-diffusion-v1-5/stable-diffusion-v1-5", sdfiles.Options{Variant: "fp16"})
//	m, err := vae.Load(p.ComponentDir("vae"), p.Variant)
//
// Weights files are tried in diffusers' order (WeightFiles): with a
// variant, NAME.VARIANT.safetensors first (diffusion_pytorch_model.fp16.safetensors,
// model.fp16.safetensors), then NAME.safetensors, its shard index
// NAME.safetensors.index.json, NAME.bin and its index. A component without
// the variant's file uses its plain one, as diffusers does. Sharded
// variants (NAME.safetensors.index.fp16.json) are an error that says so.
//
// # Single-file checkpoints
//
// Most checkpoints shared outside the hub are one .safetensors file with
// the original CompVis (latent diffusion) names: the UNet under
// model.diffusion_model., the VAE under first_stage_model., the text
// encoder under cond_stage_model.transformer. (SD 1.x, a CLIPTextModel) or
// cond_stage_model.model. (SD 2.x, OpenCLIP ViT-H/14).
//
//	f, err := sdfiles.OpenSingleFile("v1-5-pruned-emaonly.safetensors")
//	src, cfgJSON, err := f.VAE()           // diffusers names, vae/config.json
//	cfg, err := vae.ParseConfig(cfgJSON)
//	m, err := vae.FromSource(cfg, src)
//
// UNet, VAE and TextEncoder each return a Source that renames the file's
// tensors to diffusers' names, as diffusers' single-file loader
// (loaders/single_file_utils.py) converts them, without copying: the
// attention's 1×1 convolutions of the VAE are presented as linear
// weights, OpenCLIP's fused in_proj is presented as q_proj, k_proj and
// v_proj views, and 16-bit tensors can be handed out as stored (Half).
// With each comes the config.json it implies: the geometry read from the
// tensor shapes (channels, blocks, layers, which blocks attend, the
// cross-attention width), the rest SD 1.5's or SD 2.1's defaults (32
// groups, scaling factor 0.18215, attention heads). SchedulerConfig and
// TokenizerRepo say what a single file lacks. A file of VAE tensors alone
// (vae-ft-mse-840000-ema-pruned.safetensors) opens too, with only VAE().
// ResolveSingleFile takes a local path or a hub file written
// ORG/NAME[@REVISION]/FILE.safetensors; IsSingleFile tells such references
// from pipelines. Pickled .ckpt files and SDXL
// files are errors that say so.
package sdfiles
