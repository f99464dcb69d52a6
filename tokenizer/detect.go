package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Kind names a tokenizer algorithm.
type Kind string

// The tokenizer kinds Detect recognises.
const (
	KindBPE       Kind = "bpe"       // GPT-2 byte-level BPE
	KindWordPiece Kind = "wordpiece" // BERT WordPiece
	// KindSentencePiece is SentencePiece Unigram or BPE: T5 (spiece.model
	// or a Unigram tokenizer.json), Marian (source.spm + target.spm).
	KindSentencePiece Kind = "sentencepiece"
)

// Detect reports which kind of tokenizer the files in dir hold:
// SentencePiece for spiece.model or source.spm, else the model type of
// tokenizer.json if present (BPE, WordPiece, or Unigram: SentencePiece),
// else BPE for vocab.json + merges.txt, else WordPiece for vocab.txt. A
// directory with none of them is an error that wraps ErrNoTokenizer.
func Detect(dir string) (Kind, error) {
	if exists(filepath.Join(dir, SpieceModel)) || exists(filepath.Join(dir, SourceSPM)) {
		return KindSentencePiece, nil
	}
	tj := filepath.Join(dir, "tokenizer.json")
	if data, err := os.ReadFile(tj); err == nil {
		var head struct {
			Model struct {
				Type   string          `json:"type"`
				Merges json.RawMessage `json:"merges"`
			} `json:"model"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return "", fmt.Errorf("tokenizer: %s: %w", tj, err)
		}
		switch {
		case head.Model.Type == "BPE" || (head.Model.Type == "" && head.Model.Merges != nil):
			return KindBPE, nil
		case head.Model.Type == "WordPiece":
			return KindWordPiece, nil
		case head.Model.Type == "Unigram":
			return KindSentencePiece, nil
		}
		return "", fmt.Errorf("tokenizer: %s: model type %q not supported (want BPE, WordPiece or Unigram)", tj, head.Model.Type)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("tokenizer: %w", err)
	}
	if exists(filepath.Join(dir, "vocab.json")) && exists(filepath.Join(dir, "merges.txt")) {
		return KindBPE, nil
	}
	if exists(filepath.Join(dir, "vocab.txt")) {
		return KindWordPiece, nil
	}
	return "", noTokenizer(dir)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Files lists the tokenizer files a model directory may hold, for callers
// that fetch a model's files (tokenizer_config.json carries do_lower_case).
var Files = []string{"tokenizer.json", "vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json", SpieceModel, SourceSPM, TargetSPM}
