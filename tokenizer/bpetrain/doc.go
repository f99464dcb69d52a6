// Package bpetrain learns a byte-level BPE vocabulary (GPT-2's kind) from
// text, as Hugging Face tokenizers' ByteLevelBPETokenizer.train does, and
// writes it as files that tokenizer.Load reads.
//
//	res, err := bpetrain.Train(file, bpetrain.DefaultOptions()) // or NewCounter + TrainCounts
//	err = res.Save(dir) // vocab.json, merges.txt, tokenizer.json
//	tok, err := tokenizer.Load(dir)
//
// # Algorithm
//
// The text is split into words by GPT-2's pre-tokenisation pattern
// (tokenizer.PreTokenizeGPT2; no prefix space is added) and the words are
// counted. Each word starts as its UTF-8 bytes, one byte-level character
// each. The vocabulary starts with the special tokens (ids 0, 1, …), then
// all 256 byte-level characters sorted by code point ('!' … 'ÿ', 'Ā' …
// 'Ń'), whether the corpus has them or not (HF's initial_alphabet =
// ByteLevel.alphabet(), no limit_alphabet). Then, until the vocabulary has
// Options.VocabSize tokens:
//
//   - count every pair of adjacent tokens over all words, each word
//     weighted by its count;
//   - take the pair with the highest count; among equal counts the pair
//     of smaller ids, comparing the left ids, then the right ones. This is
//     the order of HF's trainer (trainer.rs: Merge's Ord compares counts,
//     then the pairs reversed, in a max-heap), and since ids follow the
//     vocabulary order it prefers older tokens and, among single
//     characters, smaller code points;
//   - stop if no pair is left or the best count is below
//     Options.MinFrequency;
//   - add the token left+right to the vocabulary (if the string is already
//     there, as a different pair may have made it, the merge is still
//     recorded and reuses its id: the vocabulary does not grow), and
//     replace the pair in every word, left to right without overlap.
//
// Counts are kept up to date incrementally, with an index of the words
// each pair occurs in and a lazily updated priority queue, as HF's
// BpeTrainer does, so a merge costs time in proportion to the words it
// touches. testdata/bpe_train_ref.py is the same algorithm written
// plainly (all pairs recounted at each step); the tests compare against
// its output.
//
// # Differences from Hugging Face
//
// HF's train(files) feeds its trainer one line at a time; Train and
// Counter.AddText pre-tokenise a text as a whole, as tokenizer.BPE encodes
// it (the two differ only around line ends, where "a \nb" is one piece
// " \n" per line but " " and "\n" as a whole). When a merge reuses an
// existing token (see above), HF's queue applies it only to the words of
// one queue entry and may record it twice; this package applies every
// merge to every word. Special tokens written in the corpus are plain
// text in both.
package bpetrain
