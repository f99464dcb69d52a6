package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/loupe-ml/loupe/hub"
	"github.com/spf13/cobra"
)

// defaultDownloadFiles are fetched by `loupe download` when no --file is
// given: what GPT-2, BERT and sentence-transformers models need. Only
// config.json is required.
var defaultDownloadFiles = []string{
	"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
	"vocab.txt", "tokenizer_config.json", "modules.json", "config_sentence_transformers.json",
	"sentence_bert_config.json", "1_Pooling/config.json", "special_tokens_map.json",
}

var downloadFlags struct {
	model    string
	revision string
	files    []string
}

func init() {
	cmd := &cobra.Command{
		Use:   "download [--model] ID [--revision R] [--file F ...]",
		Short: "Fetch a model from the Hugging Face hub into the local cache",
		Long: `Fetch model files from the Hugging Face hub into the cache that Python's
huggingface_hub and transformers use ($HF_HUB_CACHE, else $HF_HOME/hub, else
~/.cache/huggingface/hub), and print the snapshot directory.

Without --file, fetches config.json (required) and, where the repository has
them, the weights (model.safetensors; else its shard index and shards, else
pytorch_model.bin or its shards) and the tokenizer and sentence-transformers
files.
With --file, fetches exactly the files named (all required).

Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE.`,
		Example: `  loupe download --model gpt2
  loupe download gpt2
  loupe download --model sentence-transformers/all-MiniLM-L6-v2
  loupe download --model openai-community/gpt2 --revision main --file config.json --file model.safetensors`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return cliError("download", runDownload(cmd, args)) },
	}
	cmd.Flags().StringVar(&downloadFlags.model, "model", "", "hub id (NAME, ORG/NAME or ORG/NAME@REVISION)")
	cmd.Flags().StringVar(&downloadFlags.revision, "revision", "", "branch, tag or commit hash (default main)")
	cmd.Flags().StringArrayVar(&downloadFlags.files, "file", nil, "file to fetch (repeatable; default: the usual model files)")
	rootCmd.AddCommand(cmd)
}

func runDownload(cmd *cobra.Command, args []string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	ref := downloadFlags.model
	switch {
	case len(args) == 1 && ref != "" && args[0] != ref:
		return fmt.Errorf("two models given: --model %s and %s", ref, args[0])
	case len(args) == 1:
		ref = args[0]
	case ref == "":
		return fmt.Errorf("no model given: use --model ID (for example --model openai-community/gpt2)")
	}
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a local directory; give a hub id such as openai-community/gpt2", ref)
	}
	repo, rev, err := hub.ParseRef(ref)
	if err != nil {
		return err
	}
	if downloadFlags.revision != "" {
		if strings.Contains(ref, "@") && rev != downloadFlags.revision {
			return fmt.Errorf("--model %s and --revision %s name different revisions", ref, downloadFlags.revision)
		}
		rev = downloadFlags.revision
	}
	required, optional := []string{"config.json"}, defaultDownloadFiles[1:]
	if len(downloadFlags.files) > 0 {
		required, optional = downloadFlags.files, nil
	}
	res, err := hubClient().Snapshot(ctx, repo, rev, required, optional)
	if err != nil {
		return err
	}
	if res.Files == nil {
		res.Files = []string{}
	}
	return jsonOrText(cmd.OutOrStdout(), res, res.WriteText)
}
