// Package retrieval joins loupe's language models to its search index, as
// retrieval-augmented language models do: a chunk store (RETRO's retrieval
// database) and in-context retrieval (in-context RALM).
//
// # The chunk store: RETRO's retrieval step
//
// RETRO (Borgeaud et al. 2022, "Improving language models by retrieving
// from trillions of tokens") splits its database into chunks of N = 64
// tokens of the language model's tokenizer and stores each chunk with its
// continuation, the F = N tokens that follow it in the source text: a
// database entry is the pair [N, F]. The keys are embeddings of the
// chunks (frozen BERT, averaged over the chunk). While the model reads a
// text, the text is split into chunks of N tokens as well, and each
// input chunk's k nearest database chunks, with their continuations, are
// its neighbours.
//
// Build makes such a store from a corpus of text files: each file is
// tokenized with the LM's tokenizer and cut into chunks of
// BuildOptions.ChunkTokens tokens (Split; a chunk never spans two files,
// a file's last chunk may be shorter and has an empty continuation),
// each chunk is embedded with a sentence-embedding model (package embed,
// any model loupe embed takes) and stored, with its continuation and
// where it came from, in loupe's vector index through package search. A
// manifest, rag.json, records the chunk size, the LM tokenizer's identity
// and the embedding model; Open refuses a store built for another
// tokenizer (TokenizerError). Store.Retrieve returns the chunks nearest a
// text; Store.Neighbours is RETRO's step: the input text cut into chunks,
// and each chunk's neighbours with their continuations.
//
// The store directory is also a search index: loupe search --index STORE
// works on it, and its metadata fields ("source", "chunk", "offset",
// "tokens", "continuation") can be filtered on.
//
// # In-context RALM
//
// In-context retrieval-augmented language models (Ram et al. 2023,
// "In-Context Retrieval-Augmented Language Models", TACL) leave the
// language model alone: every s tokens (the retrieval stride) the last ℓ
// tokens of the text so far (the query length) are the query, the
// retrieved passage is put in front of the text, and the model goes on
// generating conditioned on both. RALM does this for package generate's
// decoding loop (it is a generate.Contexter): see RALM for the passage,
// the separator and the rule that fits both into the model's context.
//
// References:
//   - S. Borgeaud et al., Improving language models by retrieving from
//     trillions of tokens, ICML 2022 (arXiv:2112.04426).
//   - O. Ram et al., In-Context Retrieval-Augmented Language Models,
//     TACL 2023 (arXiv:2302.00083).
//   - J. Alammar, The Illustrated Retrieval Transformer (2022).
package retrieval
