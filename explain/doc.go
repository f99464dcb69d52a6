// Package explain shows what a GPT-2 did: Ecco's explorables, computed in Go.
//
// The simplest use explains a prompt and what a loaded GPT-2 generates
// after it:
//
//	p, _ := generate.Load(ctx, "gpt2", generate.LoadOptions{})
//	e, _ := explain.New(p)
//	gen, _, _ := p.Resolve(generate.Settings{Seed: &seed}, 0) // generation_config.json, as loupe generate
//	res, _ := e.Explain(ctx, explain.Request{Prompt: "The cat sat", Generate: gen,
//		Options: explain.Options{Methods: explain.Methods}})
//
// or, for token ids already at hand, explain.Explain(m, ids, promptLen, opt).
//
// res holds, for every generated token, a score for each earlier token
// (attributions), the rank of the generated token after every layer
// (rankings), each layer's top predictions (the logit lens, with the final
// LayerNorm applied unless Options.Raw asks for Ecco's raw view), optional
// rankings of watched tokens, an NMF factorisation of MLP activations,
// attention probabilities, and continuations with and without neuron
// interventions (decoded with the request's generate.Options).
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
// Speed: attributions use model/gpt2's differentiable pass
// (gpt2.Model.ForwardPass and gpt2.Pass.Backward over flat buffers, built
// from package autograd). Because attention is causal, the activations of a
// prefix are the first rows of the full sequence's, so one forward pass
// serves every generated token, and the backward passes of all tokens (and,
// for integrated gradients, of all interpolation steps) run as one batch
// whose matrix multiplies are single large GEMMs. Only input gradients are
// asked for, never weight gradients.
//
// Generation (Explainer.Generate, and the regeneration with and without
// interventions) goes through package generate's decoding loop, with its
// end-of-sequence rule. Hidden states, attention probabilities and MLP
// activations are read through model/gpt2's hook points ("resid_post",
// "attn_probs", "mlp_act"); interventions (gpt2.Intervention) scale
// "mlp_act" through gpt2.InterventionHook.
//
// # Retrieval
//
// A Request with KNN (a kNN-LM: NewKNN over a retrieval/knnlm Adjuster)
// decodes through generate's loop with the kNN-LM's Adjuster and adds
// Result.Retrieval.KNN: for each output token p_LM, p_kNN and p_mix, its
// rank under p_LM and p_mix, and the neighbours with the largest weight in
// p_kNN with their datastore contexts. A Request with RALM (in-context
// retrieval: NewRALM over a retrieval.RALM) retrieves once for the prompt,
// puts the passages before it and explains [passages, separator, prompt,
// output], adding Result.Retrieval.RALM: which tokens are passage and how
// much of each output token's attribution falls on them. The other views
// stay the plain model's. See KNNExplanation and RALMExplanation.
//
// # Token text
//
// Token strings in a Result, the text view and the HTML view make
// whitespace and bytes visible: see DisplayToken and Explainer.TokenText.
//
// Explanations only read the model's weights, so concurrent calls may
// share one model or Explainer.
package explain
