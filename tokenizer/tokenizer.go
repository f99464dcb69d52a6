package tokenizer

import (
	"context"
	"errors"
	"fmt"

	"github.com/loupe-ml/loupe/hub"
)

// Tokenizer is what every tokenizer of this package does, whatever its
// algorithm, in the shape of Hugging Face's Tokenizer: text in, the
// model's input out (EncodeText), and ids back to text (Decode). *BPE,
// *WordPiece and *SentencePiece implement it; Load returns the one a model directory holds.
// A program that needs more of one kind (BPE's EOS and DecodeBytes,
// WordPiece's EncodePair and truncation) asserts the concrete type.
//
// Implementations are safe for concurrent use.
type Tokenizer interface {
	// EncodeText returns the model input for text: the ids, with the
	// special tokens the model adds around a text ("[CLS] … [SEP]" for
	// BERT, none for GPT-2), and their vocabulary strings. Nothing is
	// truncated. Special tokens written in the text ("<|endoftext|>",
	// "[SEP]") are plain text unless opt.AllowSpecial is set. The slices
	// are never nil (empty for GPT-2 and an empty text).
	EncodeText(text string, opt EncodeOptions) Encoding
	// Decode returns the text that ids stand for, special tokens
	// included (as transformers' decode does by default).
	Decode(ids []int) string
	// Token returns the vocabulary string of id ("Ġthe", "##berries"),
	// or "" if there is none.
	Token(id int) string
	// TokenText returns the text id stands for, for display (" the",
	// "berries"), or "" if there is none.
	TokenText(id int) string
	// VocabSize returns one more than the largest id.
	VocabSize() int
	// ModelMaxLength returns the model's maximum input length in tokens
	// as the tokenizer files give it, or 0 when they do not.
	ModelMaxLength() int
}

// EncodeOptions control Tokenizer.EncodeText. The zero value treats
// special tokens written in the text as plain text.
type EncodeOptions struct {
	// AllowSpecial recognises special tokens written in the text, as
	// Hugging Face transformers does by default.
	AllowSpecial bool
}

var (
	_ Tokenizer = (*BPE)(nil)
	_ Tokenizer = (*WordPiece)(nil)
	_ Tokenizer = (*SentencePiece)(nil)
)

// ErrNoTokenizer is returned (wrapped, naming the directory) by Detect,
// Load and LoadRef for a directory that holds no tokenizer files.
var ErrNoTokenizer = errors.New("no tokenizer files")

// Load loads the tokenizer that the files in dir describe: an mBART
// directory (MBartLayout) with LoadMBart, otherwise the kind Detect
// reports, with LoadBPE, LoadWordPiece or LoadSentencePiece. A directory
// with none of spiece.model, source.spm, tokenizer.json, vocab.json +
// merges.txt and vocab.txt is an error that wraps ErrNoTokenizer.
func Load(dir string) (Tokenizer, error) {
	if mbart, fifty := MBartLayout(dir); mbart {
		return LoadMBart(dir, fifty)
	}
	kind, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindBPE:
		return LoadBPE(dir)
	case KindSentencePiece:
		return LoadSentencePiece(dir)
	}
	return LoadWordPiece(dir)
}

// LoadOptions control LoadRef. The zero value fetches hub ids with
// hub.NewClient().
type LoadOptions struct {
	// Hub fetches hub ids into the Hugging Face cache; nil means
	// hub.NewClient() (HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, ...).
	Hub *hub.Client
}

// LoadRef is Load for a reference: a model directory, or a Hugging Face
// hub id (gpt2, ORG/NAME, ORG/NAME@REVISION) whose tokenizer files (Files;
// not its weights) are taken from the cache or downloaded. Errors about
// missing files name ref, not the cache directory.
func LoadRef(ctx context.Context, ref string, opt LoadOptions) (Tokenizer, error) {
	c := opt.Hub
	if c == nil {
		c = hub.NewClient()
	}
	dir, err := c.ModelDir(ctx, ref, nil, Files)
	if err != nil {
		return nil, err
	}
	t, err := Load(dir)
	if errors.Is(err, ErrNoTokenizer) && dir != ref {
		return nil, noTokenizer(ref)
	}
	return t, err
}

func noTokenizer(dir string) error {
	return fmt.Errorf("tokenizer: %s has %w (spiece.model, source.spm, tokenizer.json, vocab.json + merges.txt, or vocab.txt)", dir, ErrNoTokenizer)
}
