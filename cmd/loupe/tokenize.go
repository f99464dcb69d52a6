package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/tokenizer"
	"github.com/spf13/cobra"
)

// textTokenizer is what `loupe tokenize` needs of a tokenizer.
type textTokenizer interface {
	// tokenize returns the ids and vocabulary strings for text, and the
	// display text of each token (nil when it is the vocabulary string).
	tokenize(text string) (ids []int, tokens, texts []string)
	// maxLength is the model's input limit in tokens, 0 if unknown.
	maxLength() int
}

type bpeCLI struct {
	t       *tokenizer.BPE
	special bool
}

func (b bpeCLI) tokenize(text string) ([]int, []string, []string) {
	var ids []int
	if b.special {
		ids = b.t.EncodeAllowSpecial(text)
	} else {
		ids = b.t.Encode(text)
	}
	toks := make([]string, len(ids))
	texts := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = b.t.Token(id)
		texts[i] = b.t.TokenText(id)
	}
	return ids, toks, texts
}

func (b bpeCLI) maxLength() int { return 0 }

type wordPieceCLI struct {
	t       *tokenizer.WordPiece
	special bool
}

func (w wordPieceCLI) tokenize(text string) ([]int, []string, []string) {
	var e tokenizer.Encoding
	if w.special {
		e = w.t.EncodeAllowSpecial(text, 0)
	} else {
		e = w.t.Encode(text, 0)
	}
	return e.IDs, e.Tokens, nil
}

func (w wordPieceCLI) maxLength() int { return w.t.ModelMaxLength() }

// loadTextTokenizer resolves model (a local directory, or a hub id through
// resolveModelDir) and loads the tokenizer its files describe.
func loadTextTokenizer(cmd *cobra.Command, model string, special bool) (textTokenizer, error) {
	dir, err := resolveTokenizerDir(cmd, model)
	if err != nil {
		return nil, err
	}
	kind, err := tokenizer.Detect(dir)
	if err != nil {
		return nil, err
	}
	switch kind {
	case tokenizer.KindBPE:
		t, err := tokenizer.LoadBPE(dir)
		if err != nil {
			return nil, err
		}
		return bpeCLI{t, special}, nil
	default:
		t, err := tokenizer.LoadWordPiece(dir)
		if err != nil {
			return nil, err
		}
		return wordPieceCLI{t, special}, nil
	}
}

// resolveTokenizerDir returns model if it is a local directory, and
// otherwise fetches the tokenizer files of the hub id model (through the
// Hugging Face cache) and returns their snapshot directory.
func resolveTokenizerDir(cmd *cobra.Command, model string) (string, error) {
	if fi, err := os.Stat(model); err == nil && fi.IsDir() {
		return model, nil
	}
	c := hub.NewClient()
	c.ShowProgress = isTerminal(os.Stderr)
	return c.ModelDir(cmd.Context(), model, []string{"config.json"}, tokenizer.Files)
}

func init() {
	var model, input string
	var special bool
	cmd := &cobra.Command{
		Use:   "tokenize --model M [TEXT...]",
		Short: "Show the tokens and ids a model's tokenizer makes of text",
		Long: `Tokenize text with a model's tokenizer: GPT-2 byte-level BPE (tokenizer.json,
or vocab.json + merges.txt) or BERT WordPiece (tokenizer.json, or vocab.txt +
tokenizer_config.json), picked from the files in the model directory.

The text is the arguments joined by spaces. With --input FILE ("-" for
standard input) each line of FILE is a JSON string or an object with a "text"
field, and one JSON object {"ids": [...], "tokens": [...]} is written per line
(an "id" field of the input is copied). Text must be UTF-8.

WordPiece output includes [CLS] and [SEP]. Special tokens written in the text
("<|endoftext|>", "[SEP]") are plain text unless --special is given.`,
		Example: `  loupe tokenize --model ./gpt2 "Hello world"
  loupe tokenize --model ./gpt2 --format json "Hello<|endoftext|>" --special
  loupe tokenize --model ./bert-base-uncased --input texts.jsonl > tokens.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cliError("tokenize", runTokenize(cmd, model, input, special, args))
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model directory (or hub id) holding the tokenizer files")
	cmd.Flags().StringVar(&input, "input", "", `JSON lines file of texts ("-" for standard input)`)
	cmd.Flags().BoolVar(&special, "special", false, "recognise special tokens such as <|endoftext|> in the text")
	rootCmd.AddCommand(cmd)
}

func runTokenize(cmd *cobra.Command, model, input string, special bool, args []string) error {
	if model == "" {
		return fmt.Errorf("tokenize: --model is required")
	}
	if input != "" && len(args) > 0 {
		return fmt.Errorf("tokenize: give either TEXT or --input, not both")
	}
	if input == "" && len(args) == 0 {
		return fmt.Errorf("tokenize: no text (give TEXT or --input FILE)")
	}
	if err := checkUTF8Args("tokenize", args); err != nil {
		return err
	}
	tok, err := loadTextTokenizer(cmd, model, special)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if input != "" {
		return tokenizeLines(tok, input, cmd.InOrStdin(), out)
	}
	ids, toks, texts := tok.tokenize(strings.Join(args, " "))
	if m := tok.maxLength(); m > 0 && len(ids) > m {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: %d tokens, more than the model's maximum of %d (models truncate the input)\n", len(ids), m)
	}
	if jsonOutput() {
		return writeJSON(out, tokenizeResult{IDs: ids, Tokens: toks})
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if texts == nil {
		fmt.Fprintln(tw, "ID\tTOKEN")
		for i := range ids {
			fmt.Fprintf(tw, "%d\t%s\n", ids[i], toks[i])
		}
	} else {
		fmt.Fprintln(tw, "ID\tTOKEN\tTEXT")
		for i := range ids {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", ids[i], toks[i], strconv.Quote(texts[i]))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%d tokens\n", len(ids))
	return err
}

type tokenizeResult struct {
	ID     json.RawMessage `json:"id,omitempty"`
	IDs    []int           `json:"ids"`
	Tokens []string        `json:"tokens"`
}

// tokenizeLines tokenizes each JSON line of the file at path (stdin for "-").
func tokenizeLines(tok textTokenizer, path string, stdin io.Reader, out io.Writer) error {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("tokenize: %w", err)
		}
		defer f.Close()
		r = f
	}
	w := bufio.NewWriter(out)
	defer w.Flush() // what was done before an error is still written
	err := textLines(r, "tokenize", inputName(path), func(_ int, text string, id json.RawMessage) error {
		res := tokenizeResult{ID: id}
		res.IDs, res.Tokens, _ = tok.tokenize(text)
		if res.IDs == nil {
			res.IDs, res.Tokens = []int{}, []string{}
		}
		return writeJSON(w, res)
	})
	if err != nil {
		return err
	}
	return w.Flush()
}
