// Package clip is CLIP's text encoder (transformers' CLIPTextModel), the
// part of Stable Diffusion that turns a tokenized prompt into the
// [77, width] embeddings the UNet attends to: 768 wide for SD 1.x
// (openai/clip-vit-large-patch14, quick GELU), 1024 for SD 2.x (OpenCLIP
// ViT-H/14, exact GELU, 23 layers so that its last layer is OpenCLIP's
// penultimate).
//
//	m, err := clip.Load("path/to/sd/text_encoder") // config.json + model.safetensors
//	out, err := m.Encode([][]int{ids}, clip.Options{})
//	// out.LastHidden is [1·77, 768], row-major
//
// # Architecture
//
// x = token_embedding[id] + position_embedding[t]; each of the
// num_hidden_layers layers is pre-LayerNorm, x += attn(layer_norm1(x)) and
// x += fc2(act(fc1(layer_norm2(x)))), with causal multi-head self-attention
// (scores scaled by head_dim^-0.5, no padding mask: Stable Diffusion's
// pipelines pass none); last_hidden_state = final_layer_norm(x). The
// activation is quick_gelu, x·σ(1.702x), or gelu (erf). Options.Skip is
// diffusers' clip_skip: the output of layer num_hidden_layers−Skip, through
// final_layer_norm.
//
// # Weights
//
// Load reads text_encoder/config.json (a CLIPTextConfig, or a CLIPConfig's
// text_config) and model.safetensors (or the other weights files package
// checkpoint knows) with Hugging Face's names, text_model.embeddings.*,
// text_model.encoder.layers.N.{self_attn.{q,k,v,out}_proj, layer_norm1,
// layer_norm2, mlp.fc1, mlp.fc2}, text_model.final_layer_norm. F32 tensors
// are used in place from the mapped file. F16 and BF16 checkpoints keep
// their precision: the token embedding and each layer's four matrices stay
// in the mapped file as stored and are converted to float32 one layer at a
// time during Encode (the arithmetic is float32 throughout), so SD 1.x's
// fp16 encoder takes 246 MB rather than 492 MB; the small vectors are
// converted at load. vision_model.*, text_projection and the
// position_ids buffer are ignored; any other unexpected text_model tensor is
// an error (it usually means a config that does not match the weights).
//
// # Checked against
//
// testdata/clip_reference.py, a PyTorch reimplementation of CLIPTextModel
// written from transformers' modeling_clip.py, at real width (768, 12
// heads, MLP 3072) with random weights and 3 layers (quick_gelu) or 2
// (gelu): last_hidden_state, pooled output and clip_skip=1 agree within
// 1e-4 (max abs); F16 and BF16 files give, bit for bit, the output of a
// float32 file holding the rounded weights.
package clip
