// Package sentencepiece reads SentencePiece model files (the ModelProto
// protobuf of spiece.model, source.spm, sentencepiece.bpe.model) and
// encodes and decodes text exactly as Google's sentencepiece library
// (SentencePieceProcessor) does, in pure Go.
//
//	p, err := sentencepiece.Load("spiece.model")
//	toks := p.Encode("Hello world")   // pieces "▁Hello", "▁world" with their ids
//	ids := p.EncodeIDs("Hello world")
//	text := p.Decode(ids)             // "Hello world"
//
// # Stages
//
// Encoding follows sentencepiece's stages:
//
//   - The normalizer (normalizer.cc): at each position, a user-defined
//     symbol is kept as it is; otherwise the longest rule of the model's
//     precompiled_charsmap (a Darts-clone double-array trie over the rules'
//     source strings, whose values point into a blob of NUL-terminated
//     replacements: nmt_nfkc, nfkc, nfkc_cf, or custom rules from a TSV)
//     replaces its source; otherwise one character is copied, and one
//     invalid UTF-8 byte becomes U+FFFD. Then, as the spec says: heading,
//     trailing and repeated spaces are dropped (remove_extra_whitespaces),
//     a space is prepended (add_dummy_prefix) or, with
//     treat_whitespace_as_suffix, appended, and spaces are written as ▁
//     U+2581 (escape_whitespaces).
//   - The model. Unigram (unigram_model.cc): the Viterbi best path over the
//     lattice of pieces at each byte position, with an unknown character
//     scored as the lowest piece score minus 10, a user-defined piece as
//     length × the highest score − 0.1, UNUSED pieces left out, and path
//     scores kept as float32 as the C++ does so that ties break alike. BPE
//     (bpe_model.cc): from characters (user-defined symbols whole, never
//     merged), merge the adjacent pair that forms the piece of highest
//     score, the leftmost among equals, until none does; a merged UNUSED
//     piece is split back into its two parts.
//   - Unknown pieces: a run of them becomes one <unk>; with byte_fallback,
//     each unknown character becomes its UTF-8 bytes as <0xNN> pieces.
//
// Decode inverts this as DecodeIds does: control pieces are dropped, <unk>
// is written as the unk surface " ⁇ ", runs of byte pieces are decoded as
// UTF-8 (an invalid byte as U+FFFD), ▁ becomes a space, and the space the
// dummy prefix added is removed; a denormalizer_spec with rules is applied
// last.
//
// # Exactness and speed
//
// Ids, pieces and decoded text equal python3-sentencepiece 0.1.97's on the
// 438 texts of ../testdata/spm/cases.jsonl for eleven models trained there
// with spm_train (Unigram and BPE; nmt_nfkc, nfkc, identity and custom
// rules; byte fallback; user-defined and control symbols; split digits;
// no dummy prefix; whitespace kept; whitespace as suffix; denormalization
// rules). ../testdata/spm/make.py regenerates the models and the golden
// files.
//
// Two shortcuts keep the same results faster: BPE merges each word (a run
// starting at ▁) on its own when no piece holds ▁ after its first
// character, since no merge can then cross a word start; and words of up
// to 24 symbols are merged by scanning their pairs rather than through a
// heap. TestBPEMergeStrategies compares both with the plain algorithm.
//
// # Not supported
//
// WORD and CHAR models, sampling (subword regularization, BPE dropout),
// n-best, and offsets of pieces in the original text.
//
// A Processor is safe for concurrent use.
package sentencepiece
