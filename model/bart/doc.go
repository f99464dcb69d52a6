// Package bart runs the BART family of encoder-decoder transformers on a
// CPU: BART (facebook/bart-*, model_type "bart"), mBART (model_type
// "mbart") and Marian (Helsinki-NLP/opus-mt-*, model_type "marian"), from
// Hugging Face checkpoints. T5 is package model/t5, with the same API.
//
// A source is encoded once; a Decoder then holds, per row, the
// self-attention key/value cache of the target and the cross-attention keys
// and values computed once from that row's encoder output:
//
//	m, err := bart.Load(dir)
//	...
//	enc, err := m.Encode([][]int{srcIDs})
//	d, err := m.NewDecoderFor(enc, bart.DecoderOptions{})
//	tok := m.Config.DecoderStartTokenID
//	for len(out) < max {
//		d.Forward([][]int{{tok}})
//		tok = argmax(d.Logits(0))
//		...
//	}
//
// Decoder mirrors gpt2.State where the names fit: Forward appends tokens
// to each row and computes each row's last-position logits; Logits,
// Hidden, Len, Truncate, CopySeq and Reorder (for beam search; rows take
// other rows' caches, cross-attention keys and values included). Rows of a batch have their
// own lengths: sources are not padded, and the rows of all sequences are
// packed into the same matrix multiplies. A decoding step allocates
// nothing.
//
// # Model
//
// The network is transformers' modeling_bart.py, modeling_mbart.py and
// modeling_marian.py in inference mode: token embeddings times
// sqrt(d_model) when scale_embedding is set, plus position embeddings
// (BART, mBART: learned, offset by 2; Marian: sinusoidal with the sine half
// first and the cosine half second, computed unless stored), the
// layernorm_embedding of BART and mBART, post-LayerNorm layers
// (self-attention, for the decoder cross-attention, feed-forward with gelu,
// gelu_new, relu or swish; mBART: pre-LayerNorm layers and a final
// LayerNorm after each stack), and logits = lm_head(h) + final_logits_bias.
// nn.Linear weights keep their [out, in] layout; F32 checkpoints are used in
// place from the memory-mapped file, F16 and BF16 ones are converted at load
// time. normalize_before and add_final_layer_norm must match the model type:
// a BART or Marian config asking for pre-LayerNorm layers (which
// transformers' BART and Marian classes would silently ignore) is refused
// with an error naming the field.
//
// Model.Forward is the teacher-forced pass (all logits of a target given a
// source), used by the tests to check KV-cached decoding against it and
// both against PyTorch (testdata/reference.py).
//
// This package holds the architecture (embeddings, the layer math of both
// stacks, the checkpoint layout); the bookkeeping it shares with model/t5
// lives in internal/encdec (the decoder's per-row caches and pass packing,
// the attention over packed rows, CopySeq and Reorder) and internal/hfckpt
// (config.json and tensor reading, Save).
package bart
