package main

import (
	"fmt"
	"github.com/loupe-ml/loupe/defaults"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/embed"
)

var embedFlags struct {
	model        string
	input        string
	output       string
	batchSize    int
	maxSeqLength int
	similarity   bool
	quantize     string
}

var embedCmd = &cobra.Command{
	Use:   "embed [flags] [TEXT...]",
	Short: "Turn texts into sentence embeddings (sentence-transformers models)",
	Long: `Embed texts with a sentence-transformers model (modules.json → Transformer →
Pooling → Dense → Normalize, the Transformer a BERT or, for sentence-T5, a T5
encoder; or averaged word embeddings: WordEmbeddings → Pooling, as
loupe word2vec convert --to sentence-transformers writes) or a plain BERT
model (mean pooling).

Texts come from the arguments, or from --input: a file of text lines, or of
JSON lines with "text" and optional "id" and other fields (kept as metadata).
In a file of text lines every line is one text, a blank line included (it is
embedded as the empty string, as sentence-transformers does), so row i of
the output is line i+1; blank lines between JSON lines are skipped. Input
must be UTF-8.
--quantize (BERT encoders only) int8 is PyTorch's quantize_dynamic (int8 weights per output
channel, activations quantized per token at run time): faster, within
cosine 0.999 of float32 on the models tested; int7 is faster still. It is
compute precision: the vectors written are float32 either way.
With arguments the vectors are printed (one per line; with --format json,
one {"embedding": [...]} object per text and line: JSON lines, not one
document). With --input, --output FILE.npy writes a float32
matrix (one row per text, in input order) and any other --output name (or
standard output) gets JSON lines {"id", "embedding", ...metadata}.`,
	Example: `  loupe embed "How do I bake bread?"
  loupe embed --model sentence-transformers/all-MiniLM-L6-v2 --format json "hello world"
  loupe embed --similarity "A man is eating food." "A man is eating pasta." "The girl is carrying a baby."
  loupe embed --input docs.jsonl --output vectors.npy --batch-size 64
  loupe embed --quantize int8 --input docs.txt --output vectors.npy`,
	RunE: runEmbed,
}

func init() {
	f := embedCmd.Flags()
	f.StringVar(&embedFlags.model, "model", defaults.Embed, "hub id or local directory of the embedding model (default: loupe's built-in KJV word2vec model)")
	f.StringVar(&embedFlags.input, "input", "", "file of texts: text lines or JSON lines with \"text\"")
	f.StringVar(&embedFlags.output, "output", "", "write vectors to FILE.npy (float32 matrix) or FILE (JSON lines)")
	addEmbedFlags(f, &embedFlags.batchSize, &embedFlags.quantize, "")
	f.IntVar(&embedFlags.maxSeqLength, "max-seq-length", 0, "truncate texts to this many tokens (0: the model's max_seq_length)")
	f.BoolVar(&embedFlags.similarity, "similarity", false, "print the cosine similarity matrix of the texts instead of their vectors")
	rootCmd.AddCommand(embedCmd)
}

// textRecords are the texts of the arguments, or of --input (read with
// opts); cmd names the command in errors.
func textRecords(cmd, input string, args []string, opts embed.ReadOptions) ([]embed.Record, error) {
	switch {
	case input == "" && len(args) == 0:
		return nil, fmt.Errorf("%s: give texts as arguments or --input FILE", cmd)
	case input != "" && len(args) > 0:
		return nil, fmt.Errorf("%s: give texts as arguments or --input FILE, not both", cmd)
	case input != "":
		recs, err := embed.ReadRecordsFile(input, opts)
		if err != nil {
			return nil, cmdError(cmd, err)
		}
		return recs, nil
	}
	if err := checkUTF8Args(cmd, args); err != nil {
		return nil, err
	}
	return embed.TextRecords(args), nil
}

func runEmbed(cmd *cobra.Command, args []string) error {
	recs, err := textRecords("embed", embedFlags.input, args, embed.ReadOptions{KeepBlank: true})
	if err != nil {
		return err
	}
	m, bar, err := loadEmbedModel(cmd, "embed", embedFlags.model, embedOptions(embedFlags.batchSize, embedFlags.maxSeqLength, embedFlags.quantize))
	if err != nil {
		return err
	}
	defer m.Close()
	texts := embed.Texts(recs)
	start := time.Now()
	vecs, err := m.Embed(texts)
	bar.finish()
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	out := cmd.OutOrStdout()

	switch {
	case embedFlags.similarity:
		sim := embed.Similarity(vecs)
		return jsonOrText(out, map[string]any{"texts": texts, "similarity": sim}, func(w io.Writer) error { return embed.WriteSimilarity(w, texts, sim) })
	case embedFlags.input == "" && embedFlags.output == "":
		for _, v := range vecs {
			if err := jsonOrLine(out, map[string]any{"embedding": v}, "%s\n", embed.FormatVector(v)); err != nil {
				return err
			}
		}
		return nil
	case embedFlags.output == "" || embedFlags.output == "-":
		return embed.WriteJSONLines(out, recs, vecs)
	}
	if err := embed.WriteVectors(embedFlags.output, recs, vecs); err != nil {
		return fmt.Errorf("embed: --output: %w", hideTempName(err))
	}
	return jsonOrLine(out, map[string]any{"model": m.Name(), "count": len(vecs), "dim": m.Dim(), "output": embedFlags.output,
		"seconds": secs, "texts_per_second": float64(len(vecs)) / secs, "precision": m.Precision()},
		"embedded %d texts with %s in %.2fs (%.1f texts/s) → %s\n", len(vecs), m.Describe(), secs, float64(len(vecs))/secs, embedFlags.output)
}
