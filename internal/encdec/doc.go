// Package encdec holds what the encoder-decoder models (model/bart,
// model/t5) share besides their layer math: the attention job over packed
// rows of several sequences (with an optional relative position bias), the
// pointwise activations, the packing of a batch of sources for the encoder,
// and the decoder's per-row state (self- and cross-attention caches, pass
// buffers, logits bookkeeping) with the row packing of Forward, CopySeq and
// Reorder. A model package keeps its architecture: it embeds the tokens of
// a pass, runs its blocks over the packed rows with the helpers here, and
// hands the final hidden states to Decoder.LMHead.
package encdec
