package main

import (
	"fmt"
	"github.com/loupe-ml/loupe/defaults"
	"io"
	"strings"

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
	f.StringVar(&classifyFlags.model, "model", defaults.Embed, "embedding model (hub id or directory; default: loupe's built-in KJV word2vec model)")
	f.StringVar(&classifyFlags.data, "data", "", "training data: JSON lines with \"text\" and \"label\" (required)")
	f.StringVar(&classifyFlags.out, "out", "classifier.json", "where to save the classifier")
	d, o := classify.DefaultOptions(), &classifyFlags.opts
	f.Float64Var(&o.C, "C", d.C, "inverse L2 regularisation strength (scikit-learn's C)")
	f.StringVar(&o.ClassWeight, "class-weight", d.ClassWeight, "class weights: \"balanced\" or empty for none")
	f.IntVar(&o.MaxIter, "max-iter", d.MaxIter, "L-BFGS iteration limit")
	f.Float64Var(&o.Tol, "tol", d.Tol, "gradient tolerance (per unit of sample weight)")

	predict := &cobra.Command{Use: "predict [TEXT...]", Short: "Label texts with a saved classifier", RunE: runClassifyPredict,
		Long: `Label texts (arguments, or --input FILE of text or JSON lines) with a saved
classifier. Output: "LABEL<tab>PROBABILITY<tab>TEXT" per text; with
--format json, one {"text", "label", "probability", "probabilities"} object
per text and line (JSON lines, not one document).`}
	predict.Flags().StringVar(&classifyFlags.input, "input", "", "file of texts (text lines or JSON lines with \"text\")")

	eval := &cobra.Command{Use: "eval", Short: "Accuracy, macro-F1 and confusion matrix on labelled data", RunE: runClassifyEval, Args: cobra.NoArgs}
	eval.Flags().StringVar(&classifyFlags.data, "data", "", "test data: JSON lines with \"text\" and \"label\" (required)")
	for _, c := range []*cobra.Command{train, predict, eval} {
		if c != train {
			c.Flags().StringVar(&classifyFlags.classifier, "classifier", "classifier.json", "saved classifier")
		}
		addEmbedFlags(c.Flags(), &classifyFlags.batchSize, &classifyFlags.quantize, "")
	}
	classifyCmd.AddCommand(train, predict, eval)
	rootCmd.AddCommand(classifyCmd)
}

// withModel loads embedding model ref (with a progress bar, finished once
// fn is done) and calls fn with it.
func withModel(cmd *cobra.Command, ref string, fn func(m *embed.Model) error) error {
	m, bar, err := loadEmbedModel(cmd, "classify", ref, embedOptions(classifyFlags.batchSize, 0, classifyFlags.quantize))
	if err != nil {
		return err
	}
	defer m.Close()
	defer bar.finish()
	return fn(m)
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
	var t *classify.Training
	if err := withModel(cmd, classifyFlags.model, func(m *embed.Model) (err error) {
		if t, err = classify.FitTexts(m, texts, labels, classifyFlags.opts); err != nil {
			return cmdError("classify train", err)
		}
		return nil
	}); err != nil {
		return err
	}
	c := t.Classifier
	if err := c.Save(classifyFlags.out); err != nil {
		return err
	}
	if !c.Converged && !jsonOutput() {
		defer fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: L-BFGS did not reach --tol %g in %d iterations\n", classifyFlags.opts.Tol, c.Iterations)
	}
	return jsonOrText(cmd.OutOrStdout(), map[string]any{"output": classifyFlags.out, "model": c.Model, "labels": c.Labels,
		"examples": c.TrainSize, "train_accuracy": t.Train.Accuracy, "iterations": c.Iterations, "converged": c.Converged,
		"embed_seconds": t.EmbedSeconds, "fit_seconds": t.FitSeconds},
		func(w io.Writer) error { return t.WriteText(w, classifyFlags.out) })
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
	var preds []classify.Prediction
	if err := withModel(cmd, c.Model, func(m *embed.Model) (err error) { preds, err = c.PredictTexts(m, embed.Texts(recs)); return err }); err != nil {
		return err
	}
	for _, p := range preds {
		if err := jsonOrText(cmd.OutOrStdout(), p, p.WriteText); err != nil {
			return err
		}
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
	var met *classify.Metrics
	if err := withModel(cmd, c.Model, func(m *embed.Model) (err error) { met, err = c.ScoreTexts(m, texts, labels); return err }); err != nil {
		return err
	}
	if len(met.UnseenLabels) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: classify eval: %s has labels the classifier was not trained on: %s; they count as errors (the classifier knows %s)\n",
			classifyFlags.data, met.UnseenSummary(), strings.Join(c.Labels, ", "))
	}
	return jsonOrText(cmd.OutOrStdout(), met, met.WriteReport)
}
