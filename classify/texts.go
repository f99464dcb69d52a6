package classify

import (
	"time"

	"github.com/loupe-ml/loupe/embed"
)

// Embedder turns texts into sentence embeddings; *embed.Model is one.
type Embedder interface {
	// Name is the model's hub id or directory.
	Name() string
	Embed(texts []string) ([][]float32, error)
}

// Training is what FitTexts did.
type Training struct {
	Classifier *Classifier
	// Train scores the classifier on its training examples.
	Train *Metrics
	// EmbedSeconds and FitSeconds time the embedding and the fitting.
	EmbedSeconds, FitSeconds float64
}

// FitTexts embeds texts with e and fits a classifier on them and their
// labels, recording e's model (a directory as an absolute path) so that
// the classifier can be applied to new texts later. opts are checked
// before anything is embedded.
func FitTexts(e Embedder, texts, labels []string, opts Options) (*Training, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	X, err := e.Embed(texts)
	if err != nil {
		return nil, err
	}
	t := &Training{EmbedSeconds: time.Since(start).Seconds()}
	start = time.Now()
	if t.Classifier, err = Fit(embed.RecordedModel(e.Name()), X, labels, opts); err != nil {
		return nil, err
	}
	t.FitSeconds = time.Since(start).Seconds()
	if t.Train, err = t.Classifier.Score(X, labels); err != nil {
		return nil, err
	}
	return t, nil
}

// ScoreTexts embeds texts with e (the classifier's model) and scores the
// predictions against labels, as Score does.
func (c *Classifier) ScoreTexts(e Embedder, texts, labels []string) (*Metrics, error) {
	X, err := e.Embed(texts)
	if err != nil {
		return nil, err
	}
	return c.Score(X, labels)
}

// Prediction is the label of one text.
type Prediction struct {
	// Fields in alphabetical order: JSON encodes them as a map would be.
	Label string `json:"label"`
	// Probabilities of every label, by name.
	Probabilities map[string]float64 `json:"probabilities"`
	Probability   float64            `json:"probability"`
	Text          string             `json:"text"`
}

// PredictTexts embeds texts with e (the classifier's model) and labels
// each.
func (c *Classifier) PredictTexts(e Embedder, texts []string) ([]Prediction, error) {
	X, err := e.Embed(texts)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(X))
	for i, x := range X {
		k, p, err := c.Predict(x)
		if err != nil {
			return nil, err
		}
		probs := make(map[string]float64, len(c.Labels))
		for j, l := range c.Labels {
			probs[l] = p[j]
		}
		out[i] = Prediction{Text: texts[i], Label: c.Labels[k], Probability: p[k], Probabilities: probs}
	}
	return out, nil
}
