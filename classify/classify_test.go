package classify

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/sklearn.json comes from testdata/reference.py (scikit-learn).
// Regenerate from the repository root with:
//
//	/usr/bin/python3 classify/testdata/reference.py

type skCase struct {
	Name        string      `json:"name"`
	C           float64     `json:"C"`
	ClassWeight string      `json:"class_weight"`
	X           [][]float32 `json:"X"`
	Y           []int       `json:"y"`
	K           int         `json:"k"`
	Coef        [][]float64 `json:"coef"`
	Intercept   []float64   `json:"intercept"`
	Accuracy    float64     `json:"accuracy"`
}

func TestMatchesScikitLearn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sklearn.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []skCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		m, err := Train(c.X, c.Y, c.K, Options{C: c.C, ClassWeight: c.ClassWeight, MaxIter: 1000, Tol: 1e-8})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		// The multinomial parameters are defined up to a per-feature shift
		// across classes; L2 fixes W (rows sum to 0), and the intercepts are
		// compared after centring.
		d, scale := 0.0, 0.0
		for k := range c.Coef {
			for j := range c.Coef[k] {
				d = math.Max(d, math.Abs(m.W[k][j]-c.Coef[k][j]))
				scale = math.Max(scale, math.Abs(c.Coef[k][j]))
			}
		}
		mean := func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			return s / float64(len(v))
		}
		mg, mw := mean(m.B), mean(c.Intercept)
		for k := range c.Intercept {
			d = math.Max(d, math.Abs((m.B[k]-mg)-(c.Intercept[k]-mw)))
		}
		correct := 0
		for i, x := range c.X {
			p := m.Probabilities(x)
			best := 0
			for j := range p {
				if p[j] > p[best] {
					best = j
				}
			}
			if best == c.Y[i] {
				correct++
			}
		}
		acc := float64(correct) / float64(len(c.X))
		t.Logf("%s: %d iterations, max |Δparam| %.2g (scale %.2g), accuracy %.4f vs sklearn %.4f", c.Name, m.Iterations, d, scale, acc, c.Accuracy)
		if !m.Converged || d > 1e-4*math.Max(1, scale) {
			t.Errorf("%s: converged %v, parameters differ from scikit-learn by %g", c.Name, m.Converged, d)
		}
		if acc != c.Accuracy {
			t.Errorf("%s: accuracy %g, scikit-learn %g", c.Name, acc, c.Accuracy)
		}
	}
}

func TestTrainErrors(t *testing.T) {
	X := [][]float32{{1, 2}, {3, 4}}
	cases := []struct {
		name string
		X    [][]float32
		y    []int
		k    int
		o    Options
		want string
	}{
		{"empty", nil, nil, 2, DefaultOptions(), "no training examples"},
		{"labels", X, []int{0}, 2, DefaultOptions(), "2 examples but 1 labels"},
		{"one class", X, []int{0, 0}, 1, DefaultOptions(), "need at least 2"},
		{"missing class", X, []int{0, 0}, 2, DefaultOptions(), "class 1 has no training examples"},
		{"ragged", [][]float32{{1, 2}, {3}}, []int{0, 1}, 2, DefaultOptions(), "example 1 has 1 features, want 2"},
		{"nan", [][]float32{{1, float32(math.NaN())}, {3, 4}}, []int{0, 1}, 2, DefaultOptions(), "feature 1 is NaN"},
		{"label range", X, []int{0, 5}, 2, DefaultOptions(), "label 5"},
		{"C", X, []int{0, 1}, 2, withOption(func(o *Options) { o.C = -1 }), "C (inverse regularisation strength) -1"},
		{"max iter", X, []int{0, 1}, 2, withOption(func(o *Options) { o.MaxIter = -1 }), "iteration limit -1"},
		{"tol", X, []int{0, 1}, 2, withOption(func(o *Options) { o.Tol = -1 }), "tolerance -1"},
		{"C 0", X, []int{0, 1}, 2, Options{MaxIter: 1, Tol: 1}, "C (inverse regularisation strength) 0: want a positive number"},
		{"max iter 0", X, []int{0, 1}, 2, Options{C: 1, Tol: 1}, "iteration limit 0"},
		{"tol 0", X, []int{0, 1}, 2, Options{C: 1, MaxIter: 1}, "tolerance 0"},
		{"weights", X, []int{0, 1}, 2, withOption(func(o *Options) { o.ClassWeight = "heavy" }), `class weight "heavy"`},
	}
	for _, c := range cases {
		_, err := Train(c.X, c.y, c.k, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestFitSaveLoadPredict(t *testing.T) {
	X := [][]float32{{1, 0}, {0.9, 0.1}, {0, 1}, {0.1, 0.9}, {-1, 0}, {-0.9, -0.1}}
	labels := []string{"pos", "pos", "up", "up", "neg", "neg"}
	c, err := Fit("some/model", X, labels, Options{C: 10, MaxIter: 1000, Tol: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Labels, ",") != "neg,pos,up" {
		t.Fatalf("labels %v, want sorted", c.Labels)
	}
	path := filepath.Join(t.TempDir(), "clf.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Model != "some/model" || c2.Dim != 2 {
		t.Fatalf("loaded %+v", c2)
	}
	for i, x := range X {
		k, p, err := c2.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if c2.Labels[k] != labels[i] {
			t.Errorf("example %d predicted %s (%v), want %s", i, c2.Labels[k], p, labels[i])
		}
	}
	if _, _, err := c2.Predict([]float32{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "3 values, classifier expects 2") {
		t.Errorf("dimension mismatch: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{`, "not a classifier file"},
		{`{"version": 2}`, "version 2"},
		{`{"version": 1, "labels": ["a"]}`, "1 labels"},
		{`{"version": 1, "labels": ["a","b"], "dim": 2, "weights": [[1,2]], "intercepts": [0]}`, "1 weight rows"},
		{`{"version": 1, "labels": ["a","b"], "dim": 2, "weights": [[1,2],[3]], "intercepts": [0,0]}`, "row 1 has 1 values"},
		{`{"version": 1, "labels": ["a","b"], "dim": 2, "weights": [[1,2],[3,4]], "intercepts": [0,0]}`, "no embedding model"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	labels := []string{"a", "b", "c"}
	truth := []int{0, 0, 1, 1, 2, 2}
	pred := []int{0, 1, 1, 1, 2, 0}
	m, err := Evaluate(labels, truth, pred)
	if err != nil {
		t.Fatal(err)
	}
	// a: P 1/2 R 1/2 F 1/2; b: P 2/3 R 1 F 0.8; c: P 1 R 1/2 F 2/3.
	wantF1 := (0.5 + 0.8 + 2.0/3) / 3
	if math.Abs(m.Accuracy-4.0/6) > 1e-12 || math.Abs(m.MacroF1-wantF1) > 1e-12 {
		t.Errorf("accuracy %g macro-F1 %g, want %g %g", m.Accuracy, m.MacroF1, 4.0/6, wantF1)
	}
	if m.Confusion[0][1] != 1 || m.Confusion[2][0] != 1 || m.Confusion[1][1] != 2 {
		t.Errorf("confusion %v", m.Confusion)
	}
	if _, err := Evaluate(labels, []int{0}, []int{}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Evaluate(labels, []int{0}, []int{3}); err == nil {
		t.Error("out of range accepted")
	}
}

func TestParseExamples(t *testing.T) {
	in := "{\"text\": \"good\", \"label\": \"pos\"}\n\n{\"text\": \"x\", \"label\": 3}\n{\"text\": \"y\", \"label\": true}\n"
	ex, err := ParseExamples(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 || ex[0].Label != "pos" || ex[1].Label != "3" || ex[2].Label != "true" {
		t.Errorf("%+v", ex)
	}
	for _, bad := range []struct{ in, want string }{
		{`{"label": "a"}`, `line 1: no "text"`},
		{"{\"text\": \"a\"}", `no "label"`},
		{"{\"text\": \"a\", \"label\": [1]}", "not a string"},
		{"{\"text\": 1}", "line 1"},
		{"", "no examples"},
	} {
		_, err := ParseExamples(strings.NewReader(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 1, "model": "m", "labels": ["a","b"], "dim": 2, "weights": [[1,2],[3,4]], "intercepts": [0,0]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		x := make([]float32, c.Dim)
		if _, _, err := c.Predict(x); err != nil {
			t.Fatalf("parsed classifier cannot predict: %v", err)
		}
	})
}

func FuzzParseExamples(f *testing.F) {
	f.Add([]byte("{\"text\": \"good\", \"label\": \"pos\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ex, err := ParseExamples(strings.NewReader(string(b)))
		if err == nil && len(ex) == 0 {
			t.Fatal("no error and no examples")
		}
	})
}

// TestChunkedObjectiveDeterministic trains twice on data large enough for
// the parallel objective and checks identical results, and that the
// chunked gradient matches finite differences.
func TestChunkedObjectiveDeterministic(t *testing.T) {
	n, d, k := 600, 5, 3
	X := make([][]float32, n)
	y := make([]int, n)
	for i := range X {
		X[i] = make([]float32, d)
		for j := range X[i] {
			X[i][j] = float32(math.Sin(float64(i*7+j*13))) + float32(i%k)*0.3*float32(j%2)
		}
		y[i] = i % k
	}
	a, err := Train(X, y, k, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(X, y, k, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for c := range a.W {
		for j := range a.W[c] {
			if a.W[c][j] != b.W[c][j] {
				t.Fatalf("training is not deterministic: %v vs %v", a.W[c][j], b.W[c][j])
			}
		}
	}
	sw := make([]float64, n)
	for i := range sw {
		sw[i] = 1
	}
	theta := make([]float64, k*(d+1))
	for i := range theta {
		theta[i] = math.Cos(float64(i)) * 0.1
	}
	grad := make([]float64, len(theta))
	objective(theta, grad, X, y, sw, k, d, 1)
	g2 := make([]float64, len(theta))
	for i := range theta {
		h := 1e-6
		theta[i] += h
		fp := objective(theta, g2, X, y, sw, k, d, 1)
		theta[i] -= 2 * h
		fm := objective(theta, g2, X, y, sw, k, d, 1)
		theta[i] += h
		if fd := (fp - fm) / (2 * h); math.Abs(fd-grad[i]) > 1e-4*math.Max(1, math.Abs(fd)) {
			t.Errorf("gradient %d: analytic %g, finite difference %g", i, grad[i], fd)
		}
	}
}

// TestScoreUnseenLabel: a true label the classifier never saw gets a row
// of its own, never predicted (moved from loupe classify eval).
func TestScoreUnseenLabel(t *testing.T) {
	c, err := Fit("m", [][]float32{{1, 0}, {0, 1}, {1, 0.1}, {0.1, 1}}, []string{"a", "b", "a", "b"}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Score([][]float32{{1, 0}, {0, 1}, {1, 0}}, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Labels) != 3 || len(m.UnseenLabels) != 1 || m.UnseenLabels[0] != "c" || m.Support[2] != 1 || m.Accuracy != 2.0/3 || m.Confusion[2][0] != 1 {
		t.Errorf("metrics %+v", m)
	}
	if _, err := c.Score([][]float32{{1, 0}}, nil); err == nil {
		t.Error("mismatched lengths accepted")
	}
}

// withOption returns DefaultOptions changed by set.
func withOption(set func(*Options)) Options {
	o := DefaultOptions()
	set(&o)
	return o
}
