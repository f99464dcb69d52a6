package embed

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/loupe-ml/loupe/checkpoint"
)

// Dense activations, by the names sentence-transformers writes to a Dense
// module's config.json (util.fullname of the torch module; nn.Tanh is the
// Dense default). The short torch.nn spellings, which its
// import_from_string also reads, are accepted.
var denseActivations = map[string]bool{ // name → tanh
	"torch.nn.modules.linear.Identity": false,
	"torch.nn.Identity":                false,
	"torch.nn.modules.activation.Tanh": true,
	"torch.nn.Tanh":                    true,
}

// denseConfig is a Dense module's config.json.
type denseConfig struct {
	InFeatures         *int    `json:"in_features"`
	OutFeatures        *int    `json:"out_features"`
	Bias               *bool   `json:"bias"`
	ActivationFunction *string `json:"activation_function"`
}

// maxDenseFeatures bounds in_features and out_features so that a corrupt
// config cannot make Load allocate without bound.
const maxDenseFeatures = 1 << 16

// dense is a sentence-transformers Dense module: y = act(W·x + b), W
// [out, in] (linear.weight), b [out] (linear.bias, when bias is true).
type dense struct {
	in, out int
	w, b    []float32
	tanh    bool
}

// parseDenseConfig decodes a Dense module's config.json: in_features and
// out_features (required), bias (default true) and activation_function
// (default Tanh, as sentence-transformers' Dense). Errors name the field.
func parseDenseConfig(b []byte) (*dense, error) {
	var c denseConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("dense config: %w", err)
	}
	d := &dense{tanh: true}
	for _, f := range []struct {
		name string
		p    *int
		dst  *int
	}{{"in_features", c.InFeatures, &d.in}, {"out_features", c.OutFeatures, &d.out}} {
		if f.p == nil {
			return nil, fmt.Errorf("dense config: %s is missing", f.name)
		}
		if *f.p <= 0 || *f.p > maxDenseFeatures {
			return nil, fmt.Errorf("dense config: %s = %d, want an integer in [1, %d]", f.name, *f.p, maxDenseFeatures)
		}
		*f.dst = *f.p
	}
	if c.ActivationFunction != nil {
		tanh, ok := denseActivations[*c.ActivationFunction]
		if !ok {
			return nil, fmt.Errorf("dense config: activation_function %q is not supported (want torch.nn.modules.linear.Identity or torch.nn.modules.activation.Tanh)", *c.ActivationFunction)
		}
		d.tanh = tanh
	}
	if c.Bias == nil || *c.Bias {
		d.b = []float32{} // read from the weights
	}
	return d, nil
}

// loadDense reads a Dense module directory: config.json and the weights
// (model.safetensors or pytorch_model.bin, F32, F16 or BF16) holding
// linear.weight [out, in] and, with bias, linear.bias [out].
func loadDense(dir string) (*dense, error) {
	cp := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(cp)
	if err != nil {
		return nil, fmt.Errorf("embed: Dense module: %w", err)
	}
	d, err := parseDenseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("embed: %s: %w", cp, err)
	}
	f, err := checkpoint.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("embed: Dense module: %w", err)
	}
	defer f.Close()
	read := func(name string, shape ...int) ([]float32, error) {
		info, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("embed: %s: tensor %q is missing (Dense module, %s)", f.Path(), name, cp)
		}
		if !slices.Equal(info.Shape, shape) {
			return nil, fmt.Errorf("embed: %s: tensor %q has shape %v, want %v (in_features %d, out_features %d in %s)", f.Path(), name, info.Shape, shape, d.in, d.out, cp)
		}
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		return slices.Clone(v), nil // the file is closed on return
	}
	if d.w, err = read("linear.weight", d.out, d.in); err != nil {
		return nil, err
	}
	known := map[string]bool{"linear.weight": true}
	if d.b != nil {
		if d.b, err = read("linear.bias", d.out); err != nil {
			return nil, err
		}
		known["linear.bias"] = true
	}
	for _, n := range f.Names() {
		if !known[n] {
			return nil, fmt.Errorf("embed: %s: unexpected tensor %q (a Dense module holds linear.weight and, with bias true in %s, linear.bias)", f.Path(), n, cp)
		}
	}
	return d, nil
}

// apply returns act(W·x + b) for x of length d.in.
func (d *dense) apply(x []float32) []float32 {
	y := make([]float32, d.out)
	for o := range y {
		row := d.w[o*d.in : (o+1)*d.in]
		var s float64
		for i, v := range x {
			s += float64(row[i]) * float64(v)
		}
		if len(d.b) > 0 {
			s += float64(d.b[o])
		}
		if d.tanh {
			s = math.Tanh(s)
		}
		y[o] = float32(s)
	}
	return y
}
