package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/tokenizer"
	"github.com/spf13/cobra"
)

func init() {
	var model, input string
	var special bool
	cmd := &cobra.Command{
		Use:   "tokenize --model M [TEXT...]",
		Short: "Show the tokens and ids a model's tokenizer makes of text",
		Long: `Tokenize text with the tokenizer of a model directory or hub id (only its
tokenizer files are fetched): GPT-2 byte-level BPE (tokenizer.json, or
vocab.json + merges.txt), BERT WordPiece (tokenizer.json, or vocab.txt +
tokenizer_config.json) or SentencePiece (T5's spiece.model, Marian's
source.spm + target.spm + vocab.json, or a Unigram tokenizer.json), as the
files say. Each token is shown with its id, its vocabulary string and the
text it stands for.

The text is the arguments joined by spaces. With --input FILE ("-" for
standard input) each line of FILE is a JSON string or an object with a "text"
field, and one JSON object {"ids": [...], "tokens": [...]} is written per line
(an "id" field of the input is copied). Text must be UTF-8.

WordPiece output includes [CLS] and [SEP]; SentencePiece output ends with
</s>, as T5's and Marian's tokenizers add it. Special tokens written in the
text ("<|endoftext|>", "[SEP]", "</s>") are plain text unless --special is
given.`,
		Example: `  loupe tokenize --model ./gpt2 "Hello world"
  loupe tokenize --model ./gpt2 --format json "Hello<|endoftext|>" --special
  loupe tokenize --model ./bert-base-uncased --input texts.jsonl > tokens.jsonl
  loupe tokenize --model ./t5-small "translate English to German: Hello"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cliError("tokenize", runTokenize(cmd, model, input, special, args))
		},
	}
	cmd.Flags().StringVar(&model, "model", defaults.GPT2, "model directory (or hub id) holding the tokenizer files (default: loupe's built-in KJV GPT-2)")
	cmd.Flags().StringVar(&input, "input", "", `JSON lines file of texts ("-" for standard input)`)
	cmd.Flags().BoolVar(&special, "special", false, "recognise special tokens such as <|endoftext|> in the text")
	rootCmd.AddCommand(cmd)
}

func runTokenize(cmd *cobra.Command, model, input string, special bool, args []string) error {
	if model == "" {
		return errors.New("--model is required")
	}
	if input != "" && len(args) > 0 {
		return errors.New("give either TEXT or --input, not both")
	}
	if input == "" && len(args) == 0 {
		return errors.New("no text (give TEXT or --input FILE)")
	}
	if err := checkUTF8Args("tokenize", args); err != nil {
		return err
	}
	tok, err := tokenizer.LoadRef(cmd.Context(), model, tokenizer.LoadOptions{Hub: hubClient()})
	if err != nil {
		return err
	}
	opt := tokenizer.EncodeOptions{AllowSpecial: special}
	out := cmd.OutOrStdout()
	if input != "" {
		return tokenizer.EncodeLines(tok, opt, input, cmd.InOrStdin(), out)
	}
	e := tok.EncodeText(strings.Join(args, " "), opt)
	if m := tok.ModelMaxLength(); m > 0 && len(e.IDs) > m {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: %d tokens, more than the model's maximum of %d (models truncate the input)\n", len(e.IDs), m)
	}
	if jsonOutput() {
		return tokenizer.WriteJSON(out, e, nil)
	}
	return tokenizer.WriteTable(out, tok, e)
}
