// Package pipeline runs Stable Diffusion: text-to-image and image-to-image
// as diffusers' StableDiffusionPipeline and StableDiffusionImg2ImgPipeline
// run them, on a CPU, reproducible from a seed.
//
//	res, err := p.Generate(pipeline.Options{Prompt: "a lighthouse at dusk", Steps: 20, Guidance: 7.5, Seed: 42})
//	err = pipeline.WritePNG("out.png", res.Image, pipeline.PNGText(res.Settings, "model"))
//
// # What a run does
//
//  1. Tokenize the prompt and the negative prompt ("" when none) padded to
//     77 tokens and encode both with the CLIP text encoder (clip skip none).
//  2. Draw the initial latents [1, 4, H/8, W/8] from a CPU torch.Generator
//     seeded with the seed (package diffusion/noise) and multiply them by the
//     scheduler's init_noise_sigma.
//  3. For each timestep: scale the latents (scale_model_input), run the UNet
//     on the batch [uncond, cond], combine as uncond + g·(cond − uncond)
//     (the uncond half is skipped when g ≤ 1, as diffusers does), and step
//     the scheduler, which draws its ancestral noise from the same generator.
//  4. Decode latents / scaling_factor with the VAE and convert to 8-bit
//     pixels: (x/2 + 0.5).clamp(0, 1)·255, rounded half to even, in float32.
//
// Image-to-image (Options.Init, Options.Strength) normalises the image to
// [−1, 1], encodes it with the VAE, samples the posterior with the generator
// (mean + exp(logvar/2)·randn, the first draw), multiplies by the scaling
// factor, draws the noise (the second draw), noises the latents with the
// scheduler's add_noise at the first kept timestep, and runs the last
// int(steps·strength) steps.
//
// # Parts
//
// The tokenizer and the text encoder are packages tokenizer/clip and
// model/clip; the UNet and the VAE plug in through the Denoiser, Decoder and
// Encoder interfaces, which UNet and VAE implement over model/unet and
// model/vae; the schedulers are package diffusion/scheduler. Load opens a
// pipeline in diffusers' layout (a folder or a hub id, through
// diffusion/sdfiles) with all of them.
//
// # Looking inside
//
// Options.Explain records, per model call, the guided prediction as an
// image, the VAE decode of the predicted clean latents x̂₀ every few steps,
// and the cross-attention maps of each prompt token averaged over the steps:
// the data of the explorable (web.WriteDiffusionHTML).
package pipeline
