// Package hfckpt holds the checkpoint-directory plumbing the Hugging Face
// model packages (model/gpt2, model/bart, model/t5) share: config.json
// helpers (token id fields, bounded sizes), opening the weights with an
// error that names the files loupe reads, reading expected tensors with
// their shapes checked and refusing unexpected ones, the deterministic
// pseudo-random fill of Random models (bit-identical to the reference
// scripts), and writing a checkpoint directory atomically.
package hfckpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/safetensors"
)

// ConfigPath is the config file of a checkpoint directory.
func ConfigPath(dir string) string { return filepath.Join(dir, "config.json") }

// ReadConfig reads the config.json at path and parses it with parse;
// errors start with pkg (and the path, for parse errors).
func ReadConfig[C any](pkg, path string, parse func([]byte) (C, error)) (C, error) {
	var zero C
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", pkg, err)
	}
	c, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("%s: %s: %w", pkg, path, err)
	}
	return c, nil
}

// TokenID reads an optional token id field of config.json: null, an
// integer or a list of integers (the first is used); -1 for none.
func TokenID(name string, v any, vocab int) (int, error) {
	if l, ok := v.([]any); ok {
		if len(l) == 0 {
			return -1, nil
		}
		v = l[0]
	}
	switch x := v.(type) {
	case nil:
		return -1, nil
	case float64:
		if x != float64(int(x)) || x < 0 || int(x) >= vocab {
			return -1, fmt.Errorf("config.json: %s = %v, want an id in [0, %d)", name, x, vocab)
		}
		return int(x), nil
	}
	return -1, fmt.Errorf("config.json: %s has type %T, want an integer", name, v)
}

// TokenField is an optional token id field of config.json: Dst holds its
// default and receives its value, an id in [0, Vocab) or -1 for none.
type TokenField struct {
	Name  string
	Dst   *int
	Vocab int
}

// SetTokenIDs reads the token id fields of config.json b (see TokenID): a
// field present sets Dst, an absent one keeps its default unless that
// lies outside Vocab (a default for a larger vocabulary than this one's),
// which becomes -1. The error names the first field at fault.
func SetTokenIDs(b []byte, fields []TokenField) error {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	for _, f := range fields {
		js, present := raw[f.Name]
		if !present {
			if *f.Dst >= f.Vocab {
				*f.Dst = -1
			}
			continue
		}
		var v any
		if err := json.Unmarshal(js, &v); err != nil {
			return fmt.Errorf("config.json: %s: %w", f.Name, err)
		}
		id, err := TokenID(f.Name, v, f.Vocab)
		if err != nil {
			return err
		}
		*f.Dst = id
	}
	return nil
}

// PutTokenIDs sets token id fields of a config.json being written: an id
// as it is, -1 (none) as null.
func PutTokenIDs(config map[string]any, ids map[string]int) {
	for k, v := range ids {
		if v >= 0 {
			config[k] = v
		} else {
			config[k] = nil
		}
	}
}

// IntField is an optional positive integer of config.json: when the
// parsed value P is set, it must lie in [1, Limit] and goes to Dst.
type IntField struct {
	Name  string
	P     *int
	Dst   *int
	Limit int
}

// SetInts copies every set field to its destination, or returns an error
// naming the first out of range.
func SetInts(fields []IntField) error {
	for _, f := range fields {
		if f.P == nil {
			continue
		}
		if *f.P <= 0 || *f.P > f.Limit {
			return fmt.Errorf("config.json: %s = %d, want an integer in [1, %d]", f.Name, *f.P, f.Limit)
		}
		*f.Dst = *f.P
	}
	return nil
}

// Open opens the weights of checkpoint directory dir (see package
// checkpoint); errors start with pkg.
func Open(pkg, dir string) (*checkpoint.Checkpoint, error) {
	f, err := checkpoint.Open(dir)
	if err != nil {
		if errors.Is(err, checkpoint.ErrNoWeights) {
			return nil, fmt.Errorf("%s: %s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json (the weights files loupe reads)", pkg, dir)
		}
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	return f, nil
}

// Load reads checkpoint directory dir: config.json with loadConfig, then
// its weights (Open), from which build makes the model; the weights are
// closed when build fails. Open's errors start with pkg.
func Load[C, M any](pkg, dir string, loadConfig func(path string) (C, error), build func(C, *checkpoint.Checkpoint) (M, error)) (M, error) {
	var zero M
	cfg, err := loadConfig(ConfigPath(dir))
	if err != nil {
		return zero, err
	}
	f, err := Open(pkg, dir)
	if err != nil {
		return zero, err
	}
	m, err := build(cfg, f)
	if err != nil {
		f.Close()
		return zero, err
	}
	return m, nil
}

// Spec is one expected tensor: its name, its shape and where it goes.
type Spec struct {
	Name  string
	Shape []int
	Dst   *[]float32
}

// Tensor is the Spec of tensor name of the given shape, read into *dst.
func Tensor(name string, dst *[]float32, shape ...int) Spec {
	return Spec{Name: name, Shape: shape, Dst: dst}
}

// Size is the number of values of the tensor.
func (s Spec) Size() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Reader reads the tensors of a checkpoint as float32 (F16 and BF16
// converted), checking their shapes, and records which it read.
type Reader struct {
	f       *checkpoint.Checkpoint
	pkg     string
	missing string
	used    map[string]bool
}

// NewReader returns a Reader of f whose errors start with pkg; missing
// ends the error about a missing tensor (what the expectation came from,
// such as "(config.json: 6+6 layers)").
func NewReader(pkg string, f *checkpoint.Checkpoint, missing string) *Reader {
	return &Reader{f: f, pkg: pkg, missing: missing, used: map[string]bool{}}
}

// Has reports whether the checkpoint holds tensor name.
func (r *Reader) Has(name string) bool { _, ok := r.f.Info(name); return ok }

// Read returns tensor name, which must have shape shape.
func (r *Reader) Read(name string, shape []int) ([]float32, error) {
	info, ok := r.f.Info(name)
	if !ok {
		return nil, fmt.Errorf("%s: %s: tensor %q is missing %s", r.pkg, r.f.Path(), name, r.missing)
	}
	if !slices.Equal(info.Shape, shape) {
		return nil, fmt.Errorf("%s: %s: tensor %q has shape %v, want %v (from config.json)", r.pkg, r.f.Path(), name, info.Shape, shape)
	}
	data, err := r.f.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.pkg, err)
	}
	r.used[name] = true
	return data, nil
}

// Use marks the tensors among names that the checkpoint holds as read
// (copies of tied tensors, tensors transformers ignores).
func (r *Reader) Use(names ...string) {
	for _, n := range names {
		if r.Has(n) {
			r.used[n] = true
		}
	}
}

// Unexpected returns an error naming the tensors not read (up to three),
// or nil; what says what they are not ("a T5 parameter for this
// config.json").
func (r *Reader) Unexpected(what string) error {
	return Unexpected(r.pkg, r.f.Path(), r.f.Names(), func(n string) bool { return r.used[n] }, what)
}

// Unexpected returns an error naming the names not known (up to three) in
// the checkpoint at path, or nil.
func Unexpected(pkg, path string, names []string, known func(string) bool, what string) error {
	var unknown []string
	for _, name := range names {
		if !known(name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	more := ""
	if len(unknown) > 3 {
		more = fmt.Sprintf(" and %d more", len(unknown)-3)
		unknown = unknown[:3]
	}
	for i, n := range unknown {
		unknown[i] = strconv.Quote(n)
	}
	return fmt.Errorf("%s: %s: unexpected tensor %s%s (not %s)", pkg, path, strings.Join(unknown, ", "), more, what)
}

// Uniform fills v with center + width·u for u uniform in [-1/2, 1/2)
// from a splitmix64 stream seeded with the FNV-1a hash of name xor seed:
// the fill of the models' Random, bit-identical to their reference
// scripts.
func Uniform(v []float32, name string, seed uint64, center, width float64) {
	z := fnv1a64(name) ^ seed
	for i := range v {
		z += 0x9E3779B97F4A7C15
		u := float64(mix64(z)>>40)*(1.0/(1<<24)) - 0.5
		v[i] = float32(center + u*width)
	}
}

func fnv1a64(s string) uint64 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001B3
	}
	return h
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Save writes checkpoint directory dir: config.json (config, indented)
// and model.safetensors (ts, with metadata format pt), each atomically;
// errors start with pkg.
func Save(pkg, dir string, config map[string]any, ts []safetensors.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	if err := atomicfile.WriteFile(ConfigPath(dir), append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	return nil
}
