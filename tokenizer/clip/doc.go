// Package clip is the tokenizer of OpenAI's CLIP text encoder, as Stable
// Diffusion uses it (transformers' CLIPTokenizer, openai/clip-vit-large-patch14
// for SD 1.x, the OpenCLIP vocabulary for SD 2.x).
//
//	tok, err := clip.Load("path/to/sd/tokenizer")
//	enc := tok.EncodePadded("a lighthouse at dusk") // 77 ids, as the pipeline pads
//
// # Algorithm
//
// This is a reimplementation of CLIPTokenizer's slow (Python) algorithm as
// transformers runs it without the optional ftfy package, which is how
// diffusers' pipelines tokenize:
//
//  1. Split the text on special tokens (bos, eos, unk, pad: with SD 2.x's
//     pad "!" that includes every "!"), which map straight to their ids.
//  2. Clean each remaining piece as BERT's BasicTokenizer(strip_accents=False,
//     do_split_on_punc=False) does: drop NUL, U+FFFD and control characters,
//     turn whitespace into spaces, put spaces around CJK ideographs, NFC-
//     normalise, split on whitespace, lower-case each word (Python's full
//     lower-casing: İ → i̇, final Σ → ς), and join with single spaces.
//  3. Pre-tokenize with CLIP's pattern
//     <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
//     (one digit per piece; alternatives tried in order at each position),
//     as a hand-written scanner with Python's notion of whitespace.
//  4. Map each piece's UTF-8 bytes to GPT-2's printable byte alphabet, mark
//     its last symbol with the end-of-word suffix "</w>", and apply BPE:
//     repeatedly merge every occurrence of the adjacent pair with the lowest
//     merge rank. Unknown symbols map to the unk token.
//
// merges.txt is read as transformers reads it: its first line is skipped
// (the "#version" header) and at most 49152−256−2 = 48894 merges are used.
// tokenizer.json (the fast tokenizer's file) is read for its vocabulary,
// merges and added tokens when vocab.json is absent; the encoding is still
// the slow tokenizer's.
//
// # Padding
//
// [Tokenizer.EncodePadded] is tokenizer(prompt, padding="max_length",
// max_length=model_max_length, truncation=True): bos, at most
// model_max_length−2 tokens, eos, then the pad token up to
// model_max_length (77). The pad token comes from tokenizer_config.json or
// special_tokens_map.json: "<|endoftext|>" for SD 1.x, "!" (id 0) for SD 2.x.
//
// # Checked against
//
// testdata/clip_reference.py is a Python reimplementation written from
// transformers' tokenization_clip.py (transformers itself is not available
// where the goldens were made) that uses Python's re with Unicode category
// classes built from unicodedata; it trains a small CLIP-format vocabulary
// on King James Bible verses and prompt-like sentences and writes goldens
// for punctuation, numbers, contractions, unicode and long prompts.
package clip
