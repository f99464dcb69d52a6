// Package unet is Stable Diffusion's denoising network: diffusers'
// UNet2DConditionModel as SD 1.x and 2.x configure it, loaded from a
// pipeline's unet/ folder (config.json and diffusion_pytorch_model
// safetensors in F32, F16 or BF16) and run on a CPU in float32.
//
//	m, err := unet.Load("sd15/unet")
//	out, err := m.Forward(nil, unet.Input{
//		Sample: latents, Batch: 2, Height: 64, Width: 64, // [2, 4, 64, 64]
//		Timesteps: []float64{981},
//		Encoder: text, Seq: 77, // [2, 77, 768]: negative prompt, prompt
//	}, unet.Options{})
//	// out.Sample: [2, 4, 64, 64], the predicted noise
//
// The network, in diffusers' names: a sinusoidal timestep embedding
// (flip_sin_to_cos, freq_shift) through time_embedding's two Linears with
// SiLU; conv_in; down_blocks of ResnetBlock2D (GroupNorm+SiLU, 3×3 conv,
// the time embedding projected and added per channel, GroupNorm+SiLU,
// 3×3 conv, a 1×1 conv_shortcut when the width changes), each followed in
// CrossAttnDownBlock2D by a Transformer2DModel (GroupNorm eps 1e-6,
// proj_in as a 1×1 conv or, with use_linear_projection, a Linear, then
// BasicTransformerBlocks: LayerNorm → self-attention, LayerNorm →
// cross-attention on the text, LayerNorm → GEGLU feed-forward whose second
// half is the gelu gate, proj_out, residual), and a stride-2 3×3 conv;
// mid_block (ResNet, transformer, ResNet); up_blocks that concatenate the
// saved activations on the channel axis before each ResNet and end with a
// nearest 2× upsampling and a 3×3 conv; conv_norm_out, SiLU, conv_out.
// config.json's attention_head_dim is the number of heads, as diffusers
// reads it.
//
// Attention is computed in tiles of query rows, so a 64×64 latent holds
// 256×4096 scores (4 MB) per thread, not 4096×4096 per head.
// Activations live in buffers the Model keeps and reuses across calls
// (calls are serialised). F16 and BF16 weights stay in the mapped file in
// their stored precision; each matrix is widened to float32 when its layer
// runs (Model.Precision). Options.CrossAttention returns the
// cross-attention probabilities averaged over heads, per layer and batch
// item: which text token each latent pixel looked at (AverageMaps averages
// the layers of one resolution). Options.Timings splits a call's time by
// kind of work.
//
// FromSource takes tensors from any Source under diffusers' names, so that
// a single-file CompVis checkpoint can be renamed into it.
package unet
