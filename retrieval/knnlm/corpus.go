package knnlm

import (
	"context"
	"errors"
	"fmt"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
	"github.com/loupe-ml/loupe/train"
)

// TokenizeCorpus tokenizes text files (directories stand for the files
// under them) the way loupe train gpt2 does (train.TokenizeFiles): each
// document's tokens followed by the end-of-text token (the tokenizer's
// "<|endoftext|>", else the model's eos_token_id), documents being whole
// files (train.DocumentFiles) or non-empty lines (train.DocumentLines).
// A datastore over a model's training text built from the same files and
// document split holds exactly the token stream the model was trained on.
func TokenizeCorpus(m *gpt2.Model, tok tokenizer.Tokenizer, paths []string, docs train.Documents) ([]int, error) {
	if len(paths) == 0 {
		return nil, errors.New("knnlm: no corpus files")
	}
	eot := train.EndOfText(tok)
	if eot < 0 {
		eot = m.Config.EOSTokenID
	}
	if eot < 0 {
		return nil, errors.New("knnlm: the tokenizer has no <|endoftext|> token and the model no eos_token_id: cannot separate documents")
	}
	ids32, err := train.TokenizeFiles(tok, paths, docs, eot, nil)
	if err != nil {
		return nil, fmt.Errorf("knnlm: %w", err)
	}
	ids := make([]int, len(ids32))
	for i, id := range ids32 {
		ids[i] = int(id)
	}
	return ids, nil
}

// BuildFiles is TokenizeCorpus followed by Build.
func BuildFiles(ctx context.Context, m *gpt2.Model, tok tokenizer.Tokenizer, paths []string, docs train.Documents, dir string, opt BuildOptions) (*Manifest, error) {
	ids, err := TokenizeCorpus(m, tok, paths, docs)
	if err != nil {
		return nil, err
	}
	return Build(ctx, m, tok, ids, dir, opt)
}
