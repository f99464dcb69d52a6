// Package embed turns texts into sentence embeddings with BERT-family
// encoders, the way sentence-transformers does.
//
// The simplest use:
//
//	m, err := embed.Load(ctx, "sentence-transformers/all-MiniLM-L6-v2")
//	vecs, err := m.Embed([]string{"How do I bake bread?", "Bread recipes"})
//
// Load accepts a Hugging Face hub id (resolved through the local cache and
// downloaded when missing, see package hub) or a local directory. A
// sentence-transformers repository is read as published: modules.json lists
// the modules, which must be a Transformer (config.json, the weights in any
// form package checkpoint reads, vocab.txt or tokenizer.json), then a Pooling module (its config.json with
// pooling_mode_cls_token, pooling_mode_max_tokens, pooling_mode_mean_tokens,
// pooling_mode_mean_sqrt_len_tokens; several modes are concatenated in that
// order), then optionally Normalize (L2). max_seq_length comes from
// sentence_bert_config.json; longer texts are truncated with a warning.
//
// Averaged word embeddings load too: a modules.json whose first module is
// WordEmbeddings (wordembedding_config.json, whitespacetokenizer_config.json
// and the matrix emb_layer.weight) followed by Pooling and optionally
// Normalize. Texts are split by sentence-transformers' WhitespaceTokenizer
// rules, their known words' rows looked up and pooled; a text without a
// known word embeds as zeros. package word2vec writes such models
// (Vectors.WriteSentenceTransformers).
//
// Sentence-T5 models (sentence-transformers/sentence-t5-base, ...) load
// too: a Transformer module whose config.json has model_type "t5" is a T5
// encoder (package model/t5; a T5EncoderModel checkpoint with shared.weight
// and encoder.* only, or the encoder of a full T5 checkpoint) with its
// SentencePiece tokenizer (spiece.model or tokenizer.json: the text's
// pieces, then </s>; truncation to max_seq_length keeps </s>). Each row is
// encoded at its own length, which equals transformers' padded batch with
// an attention mask. Pooling may be followed by Dense modules (config.json
// with in_features, out_features, bias and activation_function, which must
// be torch.nn.modules.linear.Identity or torch.nn.modules.activation.Tanh,
// the Dense default; weights linear.weight [out, in] and linear.bias in
// model.safetensors or pytorch_model.bin, F32, F16 or BF16), applied in
// order before Normalize: act(W·x + b). Model.Dim is then the last Dense
// module's out_features. Options.Quantize applies to BERT only.
//
// A plain BERT directory without modules.json is embedded as
// sentence-transformers embeds a plain transformer: mean pooling over the
// attention mask, no normalisation (Load warns). A modules.json whose
// Pooling module has no config.json is an error.
//
// Pooling follows sentence-transformers exactly: mean pooling divides the
// masked sum by max(number of tokens, 1e-9); max pooling ignores padding;
// mean_sqrt_len divides by the square root of the token count; Normalize
// divides by max(‖x‖₂, 1e-12).
//
// Embed batches texts (Options.BatchSize, default 32), sorting them by
// length so that a batch holds similar lengths and little padding, and
// returns the vectors in the input order. A Model is safe for concurrent
// use: calls to Embed are serialised.
//
// Options.Quantize = "int8" runs the encoder's linear layers with dynamic
// int8 quantization, as torch.ao.quantization.quantize_dynamic does for
// nn.Linear (see bert.Model.Quantize): faster, with embeddings close to the
// float32 ones (cosine ≥ 0.999 on the models tested). It sets the precision
// of the computation; the embeddings are float32 vectors either way (this is
// not sentence-transformers' precision= output quantization).
package embed
