// Package tokenizer turns text into the token ids that transformer models
// read, and back: GPT-2's byte-level BPE, BERT's WordPiece and SentencePiece
// (T5, Flan-T5, Marian), loaded from the files a Hugging Face model
// repository ships (tokenizer.json, or the older vocab.json + merges.txt,
// vocab.txt + tokenizer_config.json, spiece.model, source.spm + target.spm).
//
// The simplest use loads whichever tokenizer a model directory holds, as a
// Tokenizer (LoadRef does the same for a Hugging Face hub id, fetching only
// the tokenizer files):
//
//	tok, err := tokenizer.Load(dir)                        // BPE, WordPiece or SentencePiece, as Detect says
//	enc := tok.EncodeText("Hello world", tokenizer.EncodeOptions{}) // IDs, Tokens, TypeIDs, AttentionMask
//	text := tok.Decode(enc.IDs)
//
// Each kind has more of its own:
//
//	bpe, err := tokenizer.LoadBPE(dir)           // GPT-2
//	ids := bpe.Encode("Hello world")             // [15496 995]
//	text := bpe.Decode(ids)                      // "Hello world"
//
//	wp, err := tokenizer.LoadWordPiece(dir)      // BERT
//	enc := wp.Encode("Hello world", 512)         // [CLS] hello world [SEP], truncated to 512
//	enc = wp.EncodePair("question", "passage", 512)
//
//	sp, err := tokenizer.LoadSentencePiece(dir)  // T5: spiece.model; Marian: source.spm
//	enc = sp.EncodeText("Hello world", tokenizer.EncodeOptions{}) // ▁Hello ▁world </s>
//
// # Pipelines
//
// Both tokenizers follow the stages of Hugging Face tokenizers: a normaliser
// (BERT: clean text, space out CJK ideographs, lower-case and strip
// accents), a pre-tokeniser (GPT-2: the regular expression of OpenAI's
// encoder.py, hand-written as a scanner since Go's regexp has no look-ahead;
// BERT: whitespace and punctuation), the model (byte-level BPE merges by
// rank; WordPiece greedy longest match with "##" continuations) and a
// post-processor (BERT's [CLS] … [SEP] template and truncation).
//
// SentencePiece models are decoded and run by the subpackage sentencepiece
// (the ModelProto reader, the charsmap normalizer, Unigram Viterbi and
// SentencePiece BPE, byte fallback); SentencePiece adds what T5's and
// Marian's transformers tokenizers add around them (</s>, extra ids,
// vocab.json ids, language codes) and reads Unigram tokenizer.json files.
//
// # Exactness
//
// BPE ids equal those of OpenAI's GPT-2 encoder on the real vocabulary, and
// WordPiece ids those of Google BERT's tokenizer (as used by transformers'
// BertTokenizer) on bert-base-uncased; testdata/ holds the golden files and
// the scripts that made them. SentencePiece ids, pieces and decoded text
// equal python3-sentencepiece's on eleven models trained with spm_train. Where Unicode tables differ (Go 1.26 uses
// Unicode 15.0; node 20 Unicode 17; Python 3.11 Unicode 14) results can
// differ on characters whose properties changed; see docs/tokenizer.md.
//
// Special tokens written in the text ("<|endoftext|>", "[SEP]") are plain text
// for Encode, as in OpenAI's and Google's encoders, and recognised by the
// AllowSpecial methods, as Hugging Face transformers does by default.
//
// # Invalid UTF-8
//
// Go strings may hold invalid UTF-8. BPE encodes such bytes as themselves
// (each grouped like U+FFFD for pre-tokenisation), so DecodeBytes(Encode(s))
// == s for every s; Decode replaces invalid sequences with U+FFFD as Python's
// errors="replace" does. WordPiece reads invalid bytes as U+FFFD, which
// BERT's text cleaning drops.
//
// # Concurrency
//
// A loaded *BPE, *WordPiece or *SentencePiece (and so any Tokenizer) is safe for concurrent
// use. BPE remembers the ids of recent pre-tokens in a bounded lock-free
// cache.
package tokenizer
