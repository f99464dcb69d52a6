// Package seq2seq generates with encoder-decoder transformers: translation
// (Marian, mBART, T5) and summarization (BART, T5), as transformers'
// pipeline("translation") and pipeline("summarization") do.
//
// Load reads a model directory or hub id (config.json's model_type bart,
// mbart or marian: package model/bart; t5: package model/t5), its
// tokenizer and its generation settings. A Pipeline encodes each source once and decodes through
// generate.Decode, the decoding loop GPT-2 uses (greedy, sampling, beam
// search, the logits processors): the LM it hands the loop is the decoder
// bound to the encoded source, whose rows (beams, samples) all read that
// source's cross-attention keys and values; a batch of sources
// (RunBatch) binds row i to source i and decodes with generate.DecodeBatch.
//
// The decoder starts from decoder_start_token_id, which max_length counts
// (as transformers does for encoder-decoders); forced_bos_token_id,
// forced_eos_token_id and bad_words_ids apply as transformers'
// ForcedBOSToken, ForcedEOSToken and NoBadWords processors.
// generation_config.json gives the defaults; without it, the generation
// fields of config.json do (transformers' GenerationConfig.from_model_config),
// and decoding is greedy unless they say do_sample.
//
// A source longer than SourceLimit (max_position_embeddings; T5's
// n_positions) is an error unless MaxSourceTokens truncates it (special
// tokens kept). SetTask applies config.json's task_specific_params as
// transformers' pipeline(task) does (T5's "translate English to German: "
// prefix and settings), SetLanguages an mBART model's source and target
// language codes (the tokenizer's src_lang, forced_bos_token_id).
//
// Pipeline.Explain explains one generation (or a given target): one
// teacher-forced decoder pass captures the cross-attention of every layer
// and head (Explanation.CrossAttention, target × source, and the
// Alignment of each target token to its top source tokens) and each
// decoder layer's output through the final norm and head (the logit lens:
// LayerPredictions, LayerTargetProb), with the encoder's and the decoder's
// self-attention of the same passes (EncoderAttention, DecoderAttention).
// With ExplainOptions.Methods it adds input saliency (Explanation.Saliency;
// Pipeline.Saliency on its own): each target token attributed to the source
// tokens and the decoder inputs before it by gradient, grad×input or
// integrated gradients, through the models' differentiable passes
// (bart.Pass, t5.Pass), reduced and normalised as package explain does for
// GPT-2.
package seq2seq
