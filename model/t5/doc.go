// Package t5 runs T5 encoder-decoder transformers on a CPU: the original
// T5 (t5-small, t5-base, ...: relu feed-forward, lm_head tied to the token
// embedding) and T5 v1.1 / Flan-T5 (gated-gelu feed-forward, untied
// lm_head), from Hugging Face checkpoints (model_type "t5").
//
// The API is model/bart's: a source is encoded once; a Decoder then holds,
// per row, the self-attention key/value cache of the target and the
// cross-attention keys and values computed once from that row's encoder
// output:
//
//	m, err := t5.Load(dir)
//	...
//	enc, err := m.Encode([][]int{srcIDs})
//	d, err := m.NewDecoderFor(enc, t5.DecoderOptions{})
//	tok := m.Config.DecoderStartTokenID
//	for len(out) < max {
//		d.Forward([][]int{{tok}})
//		tok = argmax(d.Logits(0))
//		...
//	}
//
// Decoder has Forward, Logits, Hidden, AllLogits, Len, SourceLen, Reset,
// Truncate, CopySeq, Reorder (beam search) and CrossAttention, as
// bart.Decoder. Rows of a batch have their own lengths: sources are not
// padded, and the rows of all sequences are packed into the same matrix
// multiplies. A decoding step allocates nothing.
//
// # Model
//
// The network is transformers' modeling_t5.py (T5ForConditionalGeneration)
// in inference mode: token embeddings (shared.weight, not scaled, no
// position embeddings); pre-norm blocks x = x + f(RMSNorm(x)) with T5's
// LayerNorm (no mean subtraction, no bias); attention without biases and
// without 1/sqrt(d_kv) scaling, whose heads are d_kv wide (num_heads·d_kv
// need not equal d_model); a relative position bias, from block 0's
// relative_attention_bias table and shared by every layer of its stack,
// with bidirectional buckets in the encoder and causal ones in the decoder
// (a cached query at position p reads the bias of distance p−t to key t);
// cross-attention without position bias; feed-forward wo(act(wi(x))) or,
// gated, wo(act(wi_0(x))·wi_1(x)) ("gated-gelu" means gelu_new, as in
// transformers); final_layer_norm after each stack; lm_head, with the
// decoder output scaled by d_model^-0.5 when it is tied to the embedding.
// The bias of every relative position is computed once per Encode call
// (for the longest source) and once per Decoder (every distance up to
// MaxLen), not per layer or step.
//
// An encoder-only checkpoint (T5EncoderModel, as sentence-T5 models store
// their Transformer module: shared.weight and encoder.* only) loads with
// Config.EncoderOnly set; Encode works and decoding returns an error
// wrapping ErrEncoderOnly. Package embed turns its output into sentence
// embeddings.
//
// Model.Forward is the teacher-forced pass (all logits of a target given a
// source), used by the tests to check KV-cached decoding against it and
// both against PyTorch (testdata/reference.py).
//
// This package holds the architecture (embeddings, the layer math of both
// stacks, the checkpoint layout); the bookkeeping it shares with model/bart
// lives in internal/encdec (the decoder's per-row caches and pass packing,
// the attention over packed rows, CopySeq and Reorder) and internal/hfckpt
// (config.json and tensor reading, Save).
package t5
