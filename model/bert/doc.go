// Package bert runs BERT encoders (Hugging Face BertModel checkpoints such as
// bert-base-uncased and sentence-transformers/all-MiniLM-L6-v2) on a CPU.
//
// The simplest use loads a directory holding config.json and the weights
// (model.safetensors, sharded safetensors or pytorch_model.bin; see package
// checkpoint) and runs a padded batch:
//
//	m, err := bert.Load(dir)
//	out, err := m.Forward(bert.Input{IDs: [][]int{{101, 7592, 102}, {101, 102}}})
//	// out.Hidden is last_hidden_state, [B, T, H] row-major; out.Pooled is the
//	// pooler output [B, H] when the checkpoint has a pooler.
//
// The computation is the one of Hugging Face's modeling_bert.py in eval mode:
//
//	x = LayerNorm(word[id] + position[t] + token_type[tt])      // embeddings
//	per layer:
//	  a = softmax(Q Kᵀ/√hs + mask) V  per head, mask = finfo.min on padding
//	  x = LayerNorm(x + Dense(a))                                // post-LN
//	  x = LayerNorm(x + Dense(act(Dense(x))))                    // act = GELU (erf)
//	pooled = tanh(Dense(x[:, 0]))
//
// Weights are read by their Hugging Face names, with or without the "bert."
// prefix, and the old LayerNorm "gamma"/"beta" names are accepted. nn.Linear
// weights are stored [out, in] and used as is (C = X·Wᵀ). Every tensor's
// presence and shape is checked at load, and errors name the tensor and both
// shapes. Only absolute position embeddings are supported.
//
// # Hook points
//
// A Hook in Input sees intermediate values, one call per sequence of the
// batch, in forward order (T is the padded batch length, Activation.Len the
// sequence's own length):
//
//	embeddings  [T, H]      embedding LayerNorm output (Layer -1)
//	attn_probs  [nh, T, T]  attention probabilities (padded keys exactly 0)
//	mlp_act     [T, I]      intermediate activations after GELU
//	resid_post  [T, H]      layer output (after output.LayerNorm)
//
// Data is the model's own buffer: a hook may change it in place and the
// forward pass continues with the changed values. A nil hook costs nothing;
// with a hook the attention probabilities are materialised for every head.
//
// A Model owns activation buffers that are reused from one Forward call to
// the next, so a Model is not safe for concurrent use: callers serialise
// Forward calls (package embed does) or load one Model per goroutine.
// The slices in an Output are valid until the next Forward call.
package bert
