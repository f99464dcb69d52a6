// Package s2stest writes small encoder-decoder model directories with a
// tokenizer for the tests of packages seq2seq, server and cmd/loupe: a
// random T5 of model/t5/testdata/tiny-t5's shape whose vocabulary is
// tokenizer/testdata/spm/t5.model's, and a random mBART over
// tokenizer/testdata/spm/bpe.model. It is imported by tests only.
package s2stest
