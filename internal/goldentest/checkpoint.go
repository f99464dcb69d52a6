package goldentest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// TensorEdit is one broken checkpoint of CheckLoadErrors: Edit changes
// the tensors of a good one (nil: drops Tensor), and Load's error must
// name Tensor.
type TensorEdit struct {
	Name   string // the subtest
	Tensor string
	Edit   func([]safetensors.Tensor) []safetensors.Tensor
}

// Drop returns ts without tensor name.
func Drop(ts []safetensors.Tensor, name string) []safetensors.Tensor {
	for i, x := range ts {
		if x.Name == name {
			return append(ts[:i], ts[i+1:]...)
		}
	}
	return ts
}

// CheckLoadErrors writes, for each edit, the checkpoint directory good
// (config.json, model.safetensors) with its tensors edited, and checks
// that load refuses it with an error naming the tensor; and that load
// refuses an empty directory.
func CheckLoadErrors(t *testing.T, good string, load func(dir string) error, edits []TensorEdit) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(good, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func() []safetensors.Tensor {
		var ts []safetensors.Tensor
		for _, n := range f.Names() {
			info, _ := f.Info(n)
			v, err := f.Float32(n)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, safetensors.Tensor{Name: n, Shape: info.Shape, Data: v})
		}
		return ts
	}
	cfg, err := os.ReadFile(filepath.Join(good, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range edits {
		t.Run(tc.Name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			ts := read()
			if tc.Edit != nil {
				ts = tc.Edit(ts)
			} else {
				ts = Drop(ts, tc.Tensor)
			}
			if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
				t.Fatal(err)
			}
			err := load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.Tensor) {
				t.Errorf("error %v, want one naming %s", err, tc.Tensor)
			}
		})
	}
	if err := load(t.TempDir()); err == nil {
		t.Error("empty directory: no error")
	}
}

// Checkpointed is what CheckSaveDTypes needs of a model.
type Checkpointed interface {
	Save(dir, dtype string) error
	Forward(src, tgt []int) ([]float32, error)
	Close() error
}

// CheckSaveDTypes round-trips m through Save and load as F32 (exactly),
// F16 and BF16 (within their rounding): the config (config(m)) and the
// teacher-forced logits on src and tgt come back.
func CheckSaveDTypes[M Checkpointed](t *testing.T, m M, load func(dir string) (M, error), config func(M) any, src, tgt []int) {
	t.Helper()
	want, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range []struct {
		dtype string
		tol   float64
	}{{"F32", 0}, {"F16", 0.05}, {"BF16", 0.3}} {
		dir := t.TempDir()
		if err := m.Save(dir, dt.dtype); err != nil {
			t.Fatal(err)
		}
		l, err := load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if config(l) != config(m) {
			t.Errorf("%s: config %+v, want %+v", dt.dtype, config(l), config(m))
		}
		got, err := l.Forward(src, tgt)
		if err != nil {
			t.Fatal(err)
		}
		if d := MaxAbsDiff(got, want); d > dt.tol {
			t.Errorf("%s: logits differ by %g (tolerance %g)", dt.dtype, d, dt.tol)
		}
		l.Close()
	}
}

// FuzzConfig fuzzes a package's config.json parser from the seeds: a
// config that parse accepts must pass check (the validation of a Config
// built by hand), so that Load and Random agree on what a model is.
func FuzzConfig[C any](f *testing.F, parse func([]byte) (C, error), check func(C) error, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parse(b)
		if err != nil {
			return
		}
		if err := check(c); err != nil {
			t.Fatalf("ParseConfig accepted a config check refuses: %v (%+v)", err, c)
		}
	})
}
