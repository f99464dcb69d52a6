// Package autograd computes reverse-mode gradients through the operations of
// GPT-2 style and encoder-decoder (BART, Marian, T5) transformer forward
// passes.
//
// Every operation is a pair of plain functions over flat, row-major float32
// buffers, in the style of llm.c: XxxForward(outputs..., inputs..., sizes...)
// and XxxBackward(input gradients..., output gradient, saved inputs..., sizes...).
// Backward functions accumulate (+=) into the gradients they are given, and a
// nil gradient buffer is skipped, so a caller that only wants the gradient with
// respect to the input of a matrix multiply pays nothing for the weight
// gradient.
//
// The operations are:
//
//	EmbeddingForward/Backward   row gather from a table, scatter-add back
//	MatmulForward/Backward      out = inp·w + bias with w stored [in, out] (Hugging Face Conv1D)
//	LinearTForward/Backward     out = inp·wᵀ with w stored [out, in] (nn.Linear, tied LM head)
//	AddForward/Backward         residual connections and position embeddings
//	LayerNormForward/Backward   per-row layer normalisation with gain and bias
//	GeluTanhForward/Backward    GPT-2's gelu_new
//	GeluErfForward/Backward     the exact erf GELU
//	SoftmaxForward/Backward     row softmax with an optional causal mask
//	AttentionForward/Backward   causal multi-head attention from a fused q,k,v buffer
//	SliceColsForward/Backward   take a block of columns (the q, k, v split)
//	RMSNormForward/Backward     T5's layer norm (no mean, no bias)
//	ReluForward/Backward        max(x, 0)
//	SiluForward/Backward        x·σ(x) (swish, Marian)
//	MulForward/Backward         elementwise product (T5 v1.1's gated feed-forward)
//	MHA.Forward/Backward        multi-head attention over separate q, k, v buffers:
//	                            bidirectional, causal or cross, with an optional score bias
//
// Layout: a matrix with n rows and c columns is the slice x[i*c+j]. Attention
// probabilities of one sequence are stored [nh, stride, stride] (stride >= T),
// so a prefix of a longer sequence can reuse the longer sequence's buffers.
package autograd
