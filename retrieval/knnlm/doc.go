// Package knnlm is the k-nearest-neighbour language model of Khandelwal et
// al. (2020), "Generalization through Memorization: Nearest Neighbor
// Language Models": a datastore maps the final hidden state of every
// context of a corpus (the key: GPT-2's ln_f output, the vector the LM head
// multiplies) to the token that followed it (the value). At inference the
// k keys nearest to the current hidden state under the squared L2 distance
// give a distribution over their values,
//
//	p_kNN(y) = Σ_{i: v_i = y} exp(−d_i/T) / Σ_i exp(−d_i/T),
//
// which is interpolated with the model's own, p = λ·p_kNN + (1−λ)·p_LM.
//
// Build writes a datastore (a directory) from a token stream, running the
// model over the same strided sliding windows as package perplexity so that
// every key has at least MaxLength−Stride tokens of context:
//
//	man, err := knnlm.Build(ctx, m, tok, ids, "kjv.knn", knnlm.BuildOptions{Model: "loupe/kjv-gpt2"})
//	ds, err := knnlm.Open("kjv.knn", m, tok) // refuses another model or tokenizer
//	defer ds.Close()
//
// The directory holds manifest.json (written last: see Manifest), the token
// stream tokens.npy (int32; the key of position p has the value
// tokens[p+1], so no value file is needed) and index/index.loupe, a
// package index (flat by default, or HNSW) over the keys with ids equal to
// positions. A build goes to a temporary directory renamed into place at
// the end, so a build that fails or is cancelled leaves no datastore.
//
// Three uses: an *Adjuster (generate.Options.Adjust) rewrites a decoding
// step's logits into the interpolated log-probabilities and can record a
// Trace of the neighbours for explanations; a *Mixer
// (perplexity.Options.Mixer) interpolates the targets of a perplexity
// evaluation, one batched search per chunk; and Tune searches a tuning text
// once with the largest k and scores a grid of λ, k and T.
//
// All probabilities are computed in float64, in log space: log p_kNN is a
// log-sum-exp over the neighbours (the nearest one's term is exp(0), so
// nothing underflows), and the interpolation is log(λ·e^a + (1−λ)·e^b) by
// log-add-exp. testdata/knnlm_ref.py computes the same with NumPy/PyTorch
// for the golden test.
package knnlm
