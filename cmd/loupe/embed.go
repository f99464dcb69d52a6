package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/npy"
	"github.com/spf13/cobra"
)

// defaultEmbedModel is the sentence-transformers model used when --model is
// not given.
const defaultEmbedModel = "sentence-transformers/all-MiniLM-L6-v2"

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
Pooling → Normalize) or a plain BERT model (mean pooling).

Texts come from the arguments, or from --input: a file of text lines, or of
JSON lines with "text" and optional "id" and other fields (kept as metadata).
In a file of text lines every line is one text, a blank line included (it is
embedded as the empty string, as sentence-transformers does), so row i of
the output is line i+1; blank lines between JSON lines are skipped. Input
must be UTF-8.
--quantize int8 runs the encoder's linear layers with dynamic int8
quantization (int8 weights per output channel, each token's activations
quantized at run time, int32 sums), as PyTorch's
torch.ao.quantization.quantize_dynamic does: faster, embeddings within
cosine 0.999 of float32 on the models tested. It is compute precision, not
sentence-transformers' precision= output quantization: the vectors written
are float32 either way. --quantize int7 uses 7-bit weights (faster still,
a little less precise). Default: float32.
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
	f.StringVar(&embedFlags.model, "model", defaultEmbedModel, "hub id or local directory of the embedding model")
	f.StringVar(&embedFlags.input, "input", "", "file of texts: text lines or JSON lines with \"text\"")
	f.StringVar(&embedFlags.output, "output", "", "write vectors to FILE.npy (float32 matrix) or FILE (JSON lines)")
	f.IntVar(&embedFlags.batchSize, "batch-size", embed.DefaultBatchSize, batchSizeUsage)
	f.IntVar(&embedFlags.maxSeqLength, "max-seq-length", 0, "truncate texts to this many tokens (0: the model's max_seq_length)")
	f.BoolVar(&embedFlags.similarity, "similarity", false, "print the cosine similarity matrix of the texts instead of their vectors")
	f.StringVar(&embedFlags.quantize, "quantize", "", quantizeUsage)
	rootCmd.AddCommand(embedCmd)
}

// batchSizeUsage is the help of every --batch-size flag.
const batchSizeUsage = "texts per forward pass (0: the default, 32)"

// quantizeUsage is the help of every --quantize flag.
const quantizeUsage = "compute precision of the encoder: float32 (default), int8 (dynamic int8, like torch quantize_dynamic) or int7"

// optionFlags names the flag of each library option field (embed.Options,
// search.Options and search.SearchOptions) in errors.
var optionFlags = map[string]string{
	"BatchSize": "--batch-size", "MaxSeqLength": "--max-seq-length", "Quantize": "--quantize",
	"K": "--k", "Ef": "--ef", "Filter": "--filter", "Threads": "--threads", "Model": "--model",
}

// cmdError prefixes err with the command name (once) and rewrites a
// library option error with the option's flag name.
func cmdError(cmd string, err error) error {
	var oe *embed.OptionError
	if errors.As(err, &oe) {
		name := optionFlags[oe.Field]
		if name == "" {
			name = oe.Field
		}
		return fmt.Errorf("%s: %s %v: want %s", cmd, name, oe.Value, oe.Allowed)
	}
	if strings.HasPrefix(err.Error(), cmd+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// embedOptions are the embed.Options of CLI flags, with a hub client
// that shows download progress on a terminal.
func embedOptions(batchSize, maxSeq int, quantize string) embed.Options {
	client := hub.NewClient()
	client.ShowProgress = client.ShowProgress && isTerminal(os.Stderr)
	return embed.Options{BatchSize: batchSize, MaxSeqLength: maxSeq, Client: client, Quantize: quantize}
}

// loadEmbedModel loads an embedding model with CLI options; the returned
// bar shows the progress of its next Embed call.
func loadEmbedModel(ctx context.Context, ref string, opts embed.Options) (*embed.Model, *progressBar, error) {
	bar := &progressBar{what: "embedding"}
	opts.Progress = bar.set
	m, err := embed.LoadWith(ctx, ref, opts)
	return m, bar, err
}

// progressBar is a progress bar created on its first report.
type progressBar struct {
	what string
	bar  *progress.Bar
}

func (p *progressBar) set(done, total int) {
	if p.bar == nil {
		p.bar = progress.New(int64(total), p.what, false)
	}
	p.bar.Set(int64(done))
}

// finish ends the bar, if one was shown, and readies a new one.
func (p *progressBar) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

// checkUTF8Args reports the first argument that is not valid UTF-8.
func checkUTF8Args(cmdName string, args []string) error {
	for i, a := range args {
		if !utf8.ValidString(a) {
			return fmt.Errorf("%s: text argument %d is not valid UTF-8 (loupe reads UTF-8 text only)", cmdName, i+1)
		}
	}
	return nil
}

func formatVector(v []float32) string {
	var sb strings.Builder
	for i, x := range v {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.FormatFloat(float64(x), 'g', 8, 32))
	}
	return sb.String()
}

func runEmbed(cmd *cobra.Command, args []string) error {
	if embedFlags.input == "" && len(args) == 0 {
		return fmt.Errorf("embed: give texts as arguments or --input FILE")
	}
	if embedFlags.input != "" && len(args) > 0 {
		return fmt.Errorf("embed: give texts as arguments or --input FILE, not both")
	}
	opts := embedOptions(embedFlags.batchSize, embedFlags.maxSeqLength, embedFlags.quantize)
	if err := opts.Validate(); err != nil {
		return cmdError("embed", err)
	}
	var recs []embed.Record
	if embedFlags.input != "" {
		var err error
		if recs, err = embed.ReadRecordsFile(embedFlags.input, embed.ReadOptions{KeepBlank: true}); err != nil {
			return fmt.Errorf("embed: %w", err)
		}
	} else {
		if err := checkUTF8Args("embed", args); err != nil {
			return err
		}
		for _, a := range args {
			recs = append(recs, embed.Record{Text: a})
		}
	}
	m, bar, err := loadEmbedModel(cmd.Context(), embedFlags.model, opts)
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

	if embedFlags.similarity {
		return printSimilarity(out, texts, vecs)
	}
	if embedFlags.input == "" && embedFlags.output == "" {
		for _, v := range vecs {
			if jsonOutput() {
				if err := writeJSON(out, map[string]any{"embedding": v}); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintln(out, formatVector(v))
		}
		return nil
	}
	switch {
	case strings.HasSuffix(strings.ToLower(embedFlags.output), ".npy"):
		dim := m.Dim()
		flat := make([]float32, 0, len(vecs)*dim)
		for _, v := range vecs {
			flat = append(flat, v...)
		}
		if err := npy.WriteFloat32(embedFlags.output, flat, len(vecs), dim); err != nil {
			return fmt.Errorf("embed: --output: %w", hideTempName(err))
		}
	case embedFlags.output == "" || embedFlags.output == "-":
		w := bufio.NewWriter(out)
		if err := writeVectorLines(w, recs, vecs); err != nil {
			return err
		}
		return w.Flush()
	default:
		err := atomicfile.Write(embedFlags.output, func(w io.Writer) error {
			bw := bufio.NewWriter(w)
			if err := writeVectorLines(bw, recs, vecs); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return fmt.Errorf("embed: --output: %w", hideTempName(err))
		}
	}
	summary := map[string]any{"model": m.Name(), "count": len(vecs), "dim": m.Dim(), "output": embedFlags.output,
		"seconds": secs, "texts_per_second": float64(len(vecs)) / secs, "precision": m.Precision()}
	if jsonOutput() {
		return writeJSON(out, summary)
	}
	prec := ""
	if p := m.Precision(); p != "float32" {
		prec = ", " + p
	}
	fmt.Fprintf(out, "embedded %d texts with %s (dim %d, %s pooling, normalized %v%s) in %.2fs (%.1f texts/s) → %s\n",
		len(vecs), m.Name(), m.Dim(), m.Pooling(), m.Normalized(), prec, secs, float64(len(vecs))/secs, embedFlags.output)
	return nil
}

// writeVectorLines writes one JSON object per text: id, embedding and the
// record's metadata fields.
func writeVectorLines(w io.Writer, recs []embed.Record, vecs [][]float32) error {
	for i, r := range recs {
		obj := map[string]any{}
		for k, v := range r.Meta {
			obj[k] = v
		}
		obj["id"] = r.ID
		if r.ID == nil {
			obj["id"] = i // the 0-based row
		}
		obj["embedding"] = vecs[i]
		if err := writeJSON(w, obj); err != nil {
			return err
		}
	}
	return nil
}

// printSimilarity prints the cosine similarity matrix of the embeddings.
func printSimilarity(out io.Writer, texts []string, vecs [][]float32) error {
	sim := embed.Similarity(vecs)
	if jsonOutput() {
		return writeJSON(out, map[string]any{"texts": texts, "similarity": sim})
	}
	for i, t := range texts {
		fmt.Fprintf(out, "[%d] %s\n", i, oneLine(t, 100))
	}
	fmt.Fprint(out, "\n     ")
	for j := range texts {
		fmt.Fprintf(out, " %6s", fmt.Sprintf("[%d]", j))
	}
	fmt.Fprintln(out)
	for i := range sim {
		fmt.Fprintf(out, "%5s", fmt.Sprintf("[%d]", i))
		for _, v := range sim[i] {
			fmt.Fprintf(out, " %6.3f", v)
		}
		fmt.Fprintln(out)
	}
	return nil
}

// hideTempName rewrites an error from an atomic write whose text names the
// temporary file (".NAME.tmp-123") so that it names only the cause: the
// caller's message names the real output path.
func hideTempName(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(filepath.Base(pe.Path), ".tmp-") {
		return fmt.Errorf("%s: %w", strings.Replace(err.Error(), pe.Error(), pe.Op, 1), pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) && strings.Contains(filepath.Base(le.Old), ".tmp-") {
		return fmt.Errorf("%s: %w", strings.Replace(err.Error(), le.Error(), le.Op, 1), le.Err)
	}
	return err
}
