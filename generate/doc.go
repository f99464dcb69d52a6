// Package generate produces text from a GPT-2 model: greedy decoding,
// seeded sampling through a list of logits processors, and beam search,
// with Hugging Face transformers' semantics and order. The decoding loop
// runs over an LM (GPT2 wraps a gpt2.Model; package seq2seq's is an
// encoder-decoder's decoder bound to its sources): Decode and DecodeBatch
// take any LM, and Generate, GenerateN, GenerateBatch and BeamSearch are
// GPT-2's entry points to the same code.
//
// The simplest use:
//
//	res, err := generate.Generate(ctx, model, promptIDs,
//		generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 20}, tok)
//	fmt.Print(res.Text)
//
// # Processors
//
// A Processor rewrites a row of logits in place, setting the logits of
// removed tokens to -Inf. Options builds the list in the order transformers'
// generate uses: RepetitionPenalty, NoRepeatNGram and the minimum length
// (MinLength for Options.MinLength, prompt included, or MinNewTokens for
// Options.MinNewTokens, which wins when both are set: the EOS ids in force
// get -Inf while the sequence is shorter; then ForcedBOS and ForcedEOS for
// Options.ForcedBOSTokenID and ForcedEOSTokenIDs, with NoBadWords for
// Options.BadWordsIDs before the minimum length) — these also apply when
// decoding greedily and in beam search — then, for sampling only, Temperature →
// TopK → TopP → MinP → Typical. Each warper keeps at least one token. The
// next token is the argmax of the processed logits (Greedy) or a draw from
// their softmax made with a PCG generator seeded from Options.Seed, so a
// seed reproduces a run exactly. Logprobs are always the log-softmax of the
// raw logits, before any processor.
//
// The EOS ids in force are Options.EOSTokenIDs (generation_config.json's
// eos_token_id), else the model's eos_token_id; IgnoreEOS leaves none, so
// that the minimum length then has nothing to keep out.
//
// # Several samples
//
// GenerateN draws n samples of one prompt, as transformers'
// num_return_sequences with do_sample: the prompt runs once, its cache is
// copied to n sequences of one gpt2.State, and every step decodes the
// sequences still running as one batch. Sequence i draws from a PCG stream
// derived from Options.Seed and i; sequence 0's is the one Generate uses,
// so it is Generate's result for the same seed.
//
// # Several prompts
//
// GenerateBatch continues several prompts at once, as a
// text-generation pipeline given a list: the prompts, of any lengths, are
// prefilled together in one gpt2.State, and every step decodes the
// sequences still running as one batch, each with its own sampler and
// endings. Each prompt is its own generation on the stream Generate uses
// (stream 0 of Options.Seed), so result i is Generate's for prompt i alone.
//
// # Stopping
//
// Generation stops after MaxNewTokens tokens, at the end-of-sequence token
// (kept in IDs, left out of Text), at the first occurrence of one of
// Options.Stop in the decoded text (Text ends before it; IDs and Logprobs end
// with the token that completed it, as transformers' stop_strings does), or
// when prompt plus output fill the model's context (Finish "context"; a
// prompt longer than the context is an error). Text is streamed through
// Options.OnToken as it becomes final: a piece that might begin a stop string,
// or an incomplete UTF-8 character, is held back until it is decided.
//
// # Hooks
//
// Options.Hook attaches a gpt2.Hook to every forward pass of the decoding
// loop, the prompt's and each step's, in Generate, GenerateN,
// GenerateBatch and BeamSearch alike: explain's generation with neuron
// interventions (gpt2.InterventionHook) is this loop with such a hook.
//
// # Retrieval
//
// Two kinds of retrieval-augmented generation plug into every decoding path
// (Generate, GenerateN, GenerateBatch, BeamSearch). Options.Adjust (an
// Adjuster) rewrites each row's next-token logits from the row's final hidden
// state before the processors: kNN-LM's interpolation with a datastore
// (package retrieval/knnlm). Options.Context (a Contexter) rebuilds each row's
// context before the first token and every Stride() tokens, as in-context
// retrieval-augmented LMs do (package retrieval): the row's cache is emptied
// and refilled with a retrieved passage followed by the text's tail, and the
// text itself (ids, Logprobs, Text) is unchanged by it. In beam search every
// beam rebuilds from its own text. Stats.ContextTokens counts the tokens the
// rebuilds ran.
//
// # Beam search
//
// BeamSearch keeps Beams.NumBeams continuations as one batch of a
// gpt2.State and follows transformers' vectorised _beam_search: each step
// adds every beam's processed next-token log-softmax to its score, keeps
// the best max(2, 1+len(EOS))·NumBeams continuations, moves those among the
// first NumBeams that end in an EOS id (or reach the length limit) to a list
// of NumBeams finished sequences scored sum/len^LengthPenalty (len counts
// the new tokens, EOS included, not the prompt), and runs on with the best
// NumBeams unfinished ones, reordering the State's caches (State.Reorder).
// EarlyStopping decides when it ends. The result has NumReturnSequences
// sequences, best first, each with transformers' sequences_scores value.
//
// With Beams.Sample it is transformers' beam sample (do_sample=True,
// num_beams=N): the sampling warpers of Options.Sampling also process the
// log-softmax (keeping at least 1+len(EOS) tokens), and the continuations
// are drawn without replacement from the softmax of the accumulated scores
// over all beams and tokens, seeded by Sampling.Seed, in draw order; the
// rest is the same search.
//
// # generation_config.json
//
// LoadGenerationConfig reads a model directory's generation_config.json
// into a GenerationConfig whose nil fields were absent; callers (loupe
// generate) let command-line values override it and use transformers'
// defaults (the Default… constants) for what is absent.
package generate
