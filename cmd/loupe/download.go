package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/loupe-ml/loupe/hub"
	"github.com/spf13/cobra"
)

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
	res, err := hubClient().Download(ctx, ref, hub.DownloadOptions{Revision: downloadFlags.revision, Files: downloadFlags.files})
	if err != nil {
		return err
	}
	return jsonOrText(cmd.OutOrStdout(), res, res.WriteText)
}
