// Package vae is Stable Diffusion's variational autoencoder, diffusers'
// AutoencoderKL: the decoder that turns 4-channel latents into pixels (8×
// larger on each side for SD), and the encoder that maps an image to a
// Gaussian over latents for image-to-image.
//
//	m, err := vae.Load("sd15/vae", "")       // config.json + diffusion_pytorch_model.safetensors
//	m.Unscale(latents)                       // latents / scaling_factor (+ shift_factor)
//	pixels, err := m.Decode(latents, 1, 64, 64) // [1, 3, 512, 512], nominally in [-1, 1]
//
//	post, err := m.Encode(img, 1, 512, 512)  // img in [-1, 1]
//	z := post.Sample(noise.NewGenerator(seed)) // latent_dist.sample(generator)
//	m.Scale(z)                               // · scaling_factor, for the UNet
//
// # Architecture
//
// Decoder: conv_in (3×3) → mid block → up blocks → GroupNorm + SiLU →
// conv_out. The mid block is a ResnetBlock2D, a single-head self-attention
// over all pixels (GroupNorm, to_q/to_k/to_v linear over the channels,
// softmax(q·kᵀ/√C)·v, to_out, plus the input) and another ResnetBlock2D.
// Up block i has layers_per_block+1 ResnetBlock2Ds at
// reversed(block_out_channels)[i] channels, then (all but the last)
// nearest-neighbour ×2 upsampling and a 3×3 convolution. The encoder
// mirrors it: conv_in, down blocks of layers_per_block ResnetBlock2Ds and
// (all but the last) Downsample2D — zero padding of one row and column at
// the bottom and right, then a 3×3 convolution with stride 2 — the mid
// block, GroupNorm + SiLU and conv_out to 2·latent_channels. quant_conv
// and post_quant_conv are 1×1 convolutions on the moments and the latents.
// A ResnetBlock2D is x + conv2(silu(norm2(conv1(silu(norm1(x)))))), with a
// 1×1 conv_shortcut on x when the channel count changes. Every GroupNorm
// has norm_num_groups groups and eps 1e-6.
//
// The encoder's moments split into mean and log-variance (clamped to
// [−30, 20]); Posterior.Sample draws mean + exp(logvar/2)·ε with ε from a
// diffusion/noise generator, the torch.randn that diffusers' sample draws
// from a CPU generator, so the same seed gives the same latents;
// SampleEach takes one generator per image, as diffusers does with a list.
//
// The attention scores 256 query pixels at a time against all pixels, so
// a 64×64 latent (4,096 pixels) needs 4 MB of scores instead of 64 MB.
// DecodeTiled and EncodeTiled work on large images in overlapping tiles,
// as diffusers does after enable_tiling().
//
// # Weights
//
// Names are diffusers' (encoder.down_blocks.0.resnets.0.norm1.weight, …,
// decoder.mid_block.attentions.0.to_q.weight, quant_conv.weight); the
// attention's deprecated names query/key/value/proj_attn and 1×1
// convolution shapes [C, C, 1, 1] are accepted too. Weights are F32, F16
// or BF16 and are converted to float32 when loading (the VAE is 84 M
// parameters: 335 MB in float32). Load reads a vae/ directory; FromSource
// takes any Source, such as package diffusion/sdfiles' view of a
// single-file checkpoint.
package vae
