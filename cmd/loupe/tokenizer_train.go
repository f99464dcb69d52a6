package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/tokenizer/bpetrain"
	"github.com/spf13/cobra"
)

var tokenizerCmd = &cobra.Command{
	Use:   "tokenizer",
	Short: "Train tokenizers",
}

func init() {
	rootCmd.AddCommand(tokenizerCmd)
	tokenizerCmd.AddCommand(tokenizerTrainCmd())
}

// bpetrainFlags names the flags of tokenizer train by the
// bpetrain.Options field they set.
var bpetrainFlags = map[string]string{
	"VocabSize": "--vocab-size", "MinFrequency": "--min-frequency", "SpecialTokens": "--special-token",
}

func tokenizerTrainCmd() *cobra.Command {
	opt := bpetrain.DefaultOptions()
	var corpora, specials []string
	var out string
	c := &cobra.Command{
		Use:   "train --corpus FILE|DIR --out DIR",
		Short: "Train a byte-level BPE tokenizer (GPT-2 style) on text",
		Long: `Learn a byte-level BPE vocabulary from text, in the merge order of Hugging Face
tokenizers' ByteLevelBPETokenizer.train: GPT-2 pre-tokenisation, the 256
byte-level characters as the alphabet, then the most frequent pair of adjacent
tokens merged until the vocabulary has --vocab-size tokens (among equal counts
the pair of smaller ids). Special tokens take ids 0, 1, ... in the order given.

Each --corpus (repeatable) is a text file or a directory of text files (read
recursively; hidden files and files that contain NUL bytes are skipped); each
file is pre-tokenised as a whole. --out gets vocab.json, merges.txt and
tokenizer.json in Hugging Face's formats; loupe tokenize --model DIR loads them.
--special-token '' trains without special tokens.`,
		Example: `  loupe tokenizer train --corpus kjv.txt --vocab-size 8192 --out ./tok
  loupe tokenizer train --corpus texts/ --special-token '<|endoftext|>' --special-token '<pad>' --out ./tok`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(corpora) == 0 {
				return errors.New("tokenizer train: --corpus is required")
			}
			if out == "" {
				return errors.New("tokenizer train: --out is required")
			}
			opt := opt // flags set opt; the special tokens and Progress are per run
			opt.SpecialTokens = bpetrain.DefaultOptions().SpecialTokens
			if cmd.Flags().Changed("special-token") {
				opt.SpecialTokens = specials
				if len(specials) == 1 && specials[0] == "" {
					opt.SpecialTokens = nil
				}
			}
			start := time.Now()
			counter := bpetrain.NewCounter()
			var files []string
			for _, p := range corpora {
				f, skipped, err := counter.AddPath(p)
				if len(skipped) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: skipped %d corpus file(s) that are not text (they contain NUL bytes): %s\n", len(skipped), strings.Join(skipped, ", "))
				}
				if err != nil {
					return cliError("tokenizer train", err)
				}
				files = append(files, f...)
			}
			report, finish := progress.Reporter[int]("bpe merges", false)
			opt.Progress = report
			res, err := bpetrain.TrainCounts(counter, opt)
			finish()
			if err != nil {
				var oe *bpetrain.OptionError
				if errors.As(err, &oe) {
					return fmt.Errorf("tokenizer train: %s %v: want %s", bpetrainFlags[oe.Field], oe.Value, oe.Allowed)
				}
				return cliError("tokenizer train", err)
			}
			if err := res.Save(out); err != nil {
				return cliError("tokenizer train", err)
			}
			secs := time.Since(start).Seconds()
			return jsonOrLine(cmd.OutOrStdout(), map[string]any{
				"vocab_size": len(res.Vocab), "merges": len(res.Merges), "words": res.TotalWords,
				"distinct_words": res.Words, "files": files, "seconds": secs, "out": out,
			}, "trained %d tokens (%d merges) on %d words (%d distinct) in %.1fs; wrote %s\n",
				len(res.Vocab), len(res.Merges), res.TotalWords, res.Words, secs, out)
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&corpora, "corpus", nil, "corpus text file or directory (repeatable)")
	fl.StringVar(&out, "out", "", "output directory for vocab.json, merges.txt and tokenizer.json")
	fl.IntVar(&opt.VocabSize, "vocab-size", opt.VocabSize, "vocabulary size, special tokens and the 256-character alphabet included")
	fl.IntVar(&opt.MinFrequency, "min-frequency", opt.MinFrequency, "stop when the best pair is seen fewer times")
	fl.StringArrayVar(&specials, "special-token", nil, "special token, ids 0, 1, ... in order (repeatable; default <|endoftext|>; '' for none)")
	return c
}
