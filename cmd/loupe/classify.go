package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loupe-ml/loupe/classify"
	"github.com/loupe-ml/loupe/embed"
	"github.com/spf13/cobra"
)

var classifyCmd = &cobra.Command{
	Use:   "classify",
	Short: "Train, apply and evaluate text classifiers on sentence embeddings",
	Long: `Text classification with frozen sentence embeddings and multinomial
logistic regression (L2-regularised, like scikit-learn's LogisticRegression).

Training data are JSON lines {"text": "...", "label": "..."}. The saved
classifier (JSON) records the embedding model and the label names, so
predict and eval embed new texts with the same model.`,
	Example: `  loupe classify train --model sentence-transformers/all-MiniLM-L6-v2 --data train.jsonl --out clf.json
  loupe classify predict --classifier clf.json "this movie was great"
  loupe classify eval --classifier clf.json --data test.jsonl`,
}

var classifyFlags struct {
	model, data, out, classifier, input string
	opts                                classify.Options // --C, --class-weight, --max-iter, --tol
	batchSize                           int
	quantize                            string
}

func init() {
	train := &cobra.Command{Use: "train", Short: "Fit a classifier on embedded training texts", RunE: runClassifyTrain, Args: cobra.NoArgs}
	f := train.Flags()
	f.StringVar(&classifyFlags.model, "model", defaultEmbedModel, "embedding model (hub id or directory)")
	f.StringVar(&classifyFlags.data, "data", "", "training data: JSON lines with \"text\" and \"label\" (required)")
	f.StringVar(&classifyFlags.out, "out", "classifier.json", "where to save the classifier")
	d, o := classify.DefaultOptions(), &classifyFlags.opts
	f.Float64Var(&o.C, "C", d.C, "inverse L2 regularisation strength (scikit-learn's C)")
	f.StringVar(&o.ClassWeight, "class-weight", d.ClassWeight, "class weights: \"balanced\" or empty for none")
	f.IntVar(&o.MaxIter, "max-iter", d.MaxIter, "L-BFGS iteration limit")
	f.Float64Var(&o.Tol, "tol", d.Tol, "gradient tolerance (per unit of sample weight)")
	addEmbedFlags(f, &classifyFlags.batchSize, &classifyFlags.quantize, "")

	predict := &cobra.Command{Use: "predict [TEXT...]", Short: "Label texts with a saved classifier", RunE: runClassifyPredict,
		Long: `Label texts (arguments, or --input FILE of text or JSON lines) with a saved
classifier. Output: "LABEL<tab>PROBABILITY<tab>TEXT" per text; with
--format json, one {"text", "label", "probability", "probabilities"} object
per text and line (JSON lines, not one document).`}
	f = predict.Flags()
	f.StringVar(&classifyFlags.classifier, "classifier", "classifier.json", "saved classifier")
	f.StringVar(&classifyFlags.input, "input", "", "file of texts (text lines or JSON lines with \"text\")")
	addEmbedFlags(f, &classifyFlags.batchSize, &classifyFlags.quantize, "")

	eval := &cobra.Command{Use: "eval", Short: "Accuracy, macro-F1 and confusion matrix on labelled data", RunE: runClassifyEval, Args: cobra.NoArgs}
	f = eval.Flags()
	f.StringVar(&classifyFlags.classifier, "classifier", "classifier.json", "saved classifier")
	f.StringVar(&classifyFlags.data, "data", "", "test data: JSON lines with \"text\" and \"label\" (required)")
	addEmbedFlags(f, &classifyFlags.batchSize, &classifyFlags.quantize, "")

	classifyCmd.AddCommand(train, predict, eval)
	rootCmd.AddCommand(classifyCmd)
}

// embedTexts loads model ref and embeds texts with a progress bar.
func embedTexts(cmd *cobra.Command, ref string, texts []string) ([][]float32, *embed.Model, error) {
	opts := embedOptions(classifyFlags.batchSize, 0, classifyFlags.quantize)
	m, bar, err := loadEmbedModel(cmd.Context(), ref, opts)
	if err != nil {
		return nil, nil, cmdError("classify", err)
	}
	vecs, err := m.Embed(texts)
	bar.finish()
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return vecs, m, nil
}

func runClassifyTrain(cmd *cobra.Command, args []string) error {
	if classifyFlags.data == "" {
		return fmt.Errorf("classify train: --data is required")
	}
	if err := classifyFlags.opts.Validate(); err != nil {
		return cmdError("classify train", err)
	}
	ex, err := classify.ReadExamples(classifyFlags.data)
	if err != nil {
		return err
	}
	texts, labels := classify.Split(ex)
	start := time.Now()
	X, m, err := embedTexts(cmd, classifyFlags.model, texts)
	if err != nil {
		return err
	}
	defer m.Close()
	embedSecs := time.Since(start).Seconds()
	start = time.Now()
	c, err := classify.Fit(embed.RecordedModel(m.Name()), X, labels, classifyFlags.opts)
	if err != nil {
		return cmdError("classify train", err)
	}
	fitSecs := time.Since(start).Seconds()
	if err := c.Save(classifyFlags.out); err != nil {
		return err
	}
	met, err := c.Score(X, labels)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if jsonOutput() {
		return writeJSON(out, map[string]any{"output": classifyFlags.out, "model": c.Model, "labels": c.Labels,
			"examples": len(X), "train_accuracy": met.Accuracy, "iterations": c.Iterations, "converged": c.Converged,
			"embed_seconds": embedSecs, "fit_seconds": fitSecs})
	}
	fmt.Fprintf(out, "trained on %d examples, %d labels (%s) with %s\n", len(X), len(c.Labels), strings.Join(c.Labels, ", "), c.Model)
	fmt.Fprintf(out, "L-BFGS: %d iterations, converged %v; training accuracy %.4f\n", c.Iterations, c.Converged, met.Accuracy)
	fmt.Fprintf(out, "embedding %.2fs, fitting %.2fs; saved %s\n", embedSecs, fitSecs, classifyFlags.out)
	if !c.Converged {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: L-BFGS did not reach --tol %g in %d iterations\n", classifyFlags.opts.Tol, c.Iterations)
	}
	return nil
}

func runClassifyPredict(cmd *cobra.Command, args []string) error {
	c, err := classify.Load(classifyFlags.classifier)
	if err != nil {
		return err
	}
	recs, err := textRecords("classify predict", classifyFlags.input, args, embed.ReadOptions{})
	if err != nil {
		return err
	}
	texts := embed.Texts(recs)
	X, m, err := embedTexts(cmd, c.Model, texts)
	if err != nil {
		return err
	}
	defer m.Close()
	out := cmd.OutOrStdout()
	for i, x := range X {
		k, p, err := c.Predict(x)
		if err != nil {
			return err
		}
		if jsonOutput() {
			probs := map[string]float64{}
			for j, l := range c.Labels {
				probs[l] = p[j]
			}
			if err := writeJSON(out, map[string]any{"text": texts[i], "label": c.Labels[k], "probability": p[k], "probabilities": probs}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(out, "%s\t%.3f\t%s\n", c.Labels[k], p[k], texts[i])
	}
	return nil
}

func runClassifyEval(cmd *cobra.Command, args []string) error {
	if classifyFlags.data == "" {
		return fmt.Errorf("classify eval: --data is required")
	}
	c, err := classify.Load(classifyFlags.classifier)
	if err != nil {
		return err
	}
	ex, err := classify.ReadExamples(classifyFlags.data)
	if err != nil {
		return err
	}
	texts, labels := classify.Split(ex)
	X, m, err := embedTexts(cmd, c.Model, texts)
	if err != nil {
		return err
	}
	defer m.Close()
	met, err := c.Score(X, labels)
	if err != nil {
		return err
	}
	if len(met.UnseenLabels) > 0 {
		var parts []string
		for i, l := range met.UnseenLabels {
			parts = append(parts, fmt.Sprintf("%q (%d examples)", l, met.Support[len(c.Labels)+i]))
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: classify eval: %s has labels the classifier was not trained on: %s; they count as errors (the classifier knows %s)\n",
			classifyFlags.data, strings.Join(parts, ", "), strings.Join(c.Labels, ", "))
	}
	out := cmd.OutOrStdout()
	if jsonOutput() {
		return writeJSON(out, met)
	}
	printMetrics(out, met)
	return nil
}

func printMetrics(out io.Writer, m *classify.Metrics) {
	fmt.Fprintf(out, "examples %d   accuracy %.4f   macro-F1 %.4f\n\n", m.N, m.Accuracy, m.MacroF1)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tprecision\trecall\tf1\tsupport\t")
	for i, l := range m.Labels {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t\n", l, m.Precision[i], m.Recall[i], m.F1[i], m.Support[i])
	}
	tw.Flush()
	if len(m.UnseenLabels) > 0 {
		fmt.Fprintf(out, "\nnot known to the classifier (never predicted): %s\n", strings.Join(m.UnseenLabels, ", "))
	}
	fmt.Fprintln(out, "\nconfusion matrix (rows: true label, columns: predicted)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, l := range m.Labels {
		fmt.Fprintf(tw, "%s\t", l)
	}
	fmt.Fprintln(tw)
	for i, l := range m.Labels {
		fmt.Fprintf(tw, "%s\t", l)
		for _, n := range m.Confusion[i] {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
