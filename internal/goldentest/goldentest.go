// Package goldentest holds what the models' parity tests share: reading
// a golden safetensors file written by a PyTorch reference script (values,
// token ids, the config and seed of a Random model in its metadata), the
// largest absolute difference, and the check of greedy ids that allows a
// parting after a near tie, and the checks the encoder-decoder packages
// (bart, t5) share over an EncDec. It is imported by tests only.
package goldentest

import (
	"math"
	"strconv"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// File is an open golden file.
type File struct{ f *safetensors.File }

// Open opens the golden file at path, closed when t ends; it fails t if
// it cannot.
func Open(t testing.TB, path string) File {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return File{f}
}

// Get returns tensor name as float32.
func (g File) Get(t testing.TB, name string) []float32 {
	t.Helper()
	v, err := g.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// IDs returns tensor name as token ids.
func (g File) IDs(t testing.TB, name string) []int {
	t.Helper()
	v := g.Get(t, name)
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Model returns the config.json text and the seed of the Random model name
// that the reference stored in the file's metadata (NAME.config,
// NAME.seed).
func (g File) Model(t testing.TB, name string) (config []byte, seed uint64) {
	t.Helper()
	md := g.f.Metadata()
	seed, err := strconv.ParseUint(md[name+".seed"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(md[name+".config"]), seed
}

// MaxAbsDiff is the largest absolute difference between a and b: +Inf
// when their lengths differ or a difference is NaN (so that a NaN fails a
// comparison with a tolerance instead of passing it).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i] - b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = max(d, x)
	}
	return d
}

// Cols keeps the first n columns of each row of x (width w).
func Cols(x []float32, w, n int) []float32 {
	if n >= w {
		return x
	}
	out := make([]float32, 0, len(x)/w*n)
	for r := 0; r < len(x)/w; r++ {
		out = append(out, x[r*w:r*w+n]...)
	}
	return out
}

// CheckGreedy compares greedy ids: a difference is only allowed after a
// step whose two best reference logits were closer than 1e-3 (float32
// rounding may then flip the choice); margins are the reference's.
func CheckGreedy(t *testing.T, got, want []int, margins []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			if margins[i] < 1e-3 {
				t.Logf("greedy ids part at step %d after a near tie (margin %g)", i, margins[i])
				return
			}
			t.Fatalf("greedy ids differ at step %d: got %v, want %v (margin %g)", i, got, want, margins[i])
		}
	}
}
