// Package explain shows what a GPT-2 did: Ecco's explorables, computed in Go.
//
// The simplest use explains a generated continuation:
//
//	net, _ := explain.NewNet(cfg, &weights)
//	res, _ := net.Explain(ids, promptLen, explain.Options{Methods: explain.Methods})
//
// res holds, for every generated token, a score for each earlier token
// (attributions), the rank of the generated token after every layer
// (rankings), each layer's top predictions (the logit lens, with the final
// LayerNorm applied unless Options.Raw asks for Ecco's raw view), optional
// rankings of watched tokens, an NMF factorisation of MLP activations,
// attention probabilities, and greedy continuations with neuron
// interventions.
//
// Attributions (Ecco's primary attributions, computed as Captum does):
//
//	gradient              ‖∂F/∂e_j‖₂ for each input token embedding e_j
//	grad_x_input          ‖∂F/∂e_j ⊙ e_j‖₂
//	integrated_gradients  ‖e_j ⊙ Σ_k w_k ∂F/∂e_j(α_k e)‖₂, zero baseline,
//	                      Gauss-Legendre nodes α_k and weights w_k on [0, 1]
//
// each divided by the sum over j. F is the generated token's probability
// (Ecco's target) or its logit. Token embeddings are the wte rows; position
// embeddings are added inside the model, as with Hugging Face's
// inputs_embeds.
//
// Speed: Net is a differentiable forward pass over flat buffers (package
// autograd). Because attention is causal, the activations of a prefix are
// the first rows of the full sequence's, so one forward pass serves every
// generated token, and the backward passes of all tokens (and, for
// integrated gradients, of all interpolation steps) run as one batch whose
// matrix multiplies are single large GEMMs. Only input gradients are
// computed, never weight gradients.
//
// An Explainer (a loaded gpt2.Model, its tokenizer and the Net) generates
// with the KV-cache forward of model/gpt2 and reads the hidden states,
// attention probabilities and MLP activations through its hook points
// ("resid_post", "attn_probs", "mlp_act"); interventions scale "mlp_act" in
// place. The Net's own forward is used for gradients (which need its saved
// activations) and gives the same views when no gpt2.Model is at hand.
//
// A Net only reads its weights, so concurrent Explain calls may share it.
package explain
