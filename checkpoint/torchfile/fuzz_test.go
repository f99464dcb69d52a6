package torchfile

import (
	"os"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// FuzzParse checks that reading arbitrary bytes never panics and that every
// file it accepts is self-consistent: each tensor's bytes match its shape and
// dtype, and float tensors convert to that many values.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/state.bin", "testdata/legacy.bin"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	data := f32bytes(1, 2, 3, 4, 5, 6)
	f.Add(archive(f, oneTensor("FloatStorage", 6, 1, []byte{2, 2}, []byte{2, 1}), map[string][]byte{"0": data}))
	f.Add(archive(f, oneTensor("HalfStorage", 6, 0, []byte{3, 2}, []byte{1, 3}), map[string][]byte{"0": data[:12]}))
	f.Add(archive(f, oneTensor("BFloat16Storage", 6, 0, []byte{6}, []byte{1}), map[string][]byte{"0": data[:12]}))
	f.Fuzz(func(t *testing.T, b []byte) {
		tf, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		for _, name := range tf.Names() {
			info, ok := tf.Info(name)
			if !ok {
				t.Fatalf("Names lists %q but Info does not know it", name)
			}
			raw, err := tf.Bytes(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			for _, d := range info.Shape {
				n *= d
			}
			size, _ := safetensors.DTypeSize(info.DType)
			if len(raw) != n*size {
				t.Fatalf("%q: %d bytes for shape %v of %s", name, len(raw), info.Shape, info.DType)
			}
			switch info.DType {
			case "F32", "F16", "BF16":
				v, err := tf.Float32(name)
				if err != nil || len(v) != n {
					t.Fatalf("%q: Float32 gave %d values, %v; want %d", name, len(v), err, n)
				}
			}
		}
	})
}
