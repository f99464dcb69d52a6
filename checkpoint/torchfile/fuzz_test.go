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

// FuzzPickle runs arbitrary data.pkl bytes inside a valid archive (with
// storages "0" of 24 bytes and "1" of 6), so that the fuzzer explores the
// pickle machine rather than the zip reader.
func FuzzPickle(f *testing.F) {
	f.Add(oneTensor("FloatStorage", 6, 1, []byte{2, 2}, []byte{2, 1}))
	f.Add(oneTensor("HalfStorage", 3, 0, []byte{3, 1}, []byte{1, 3}))
	f.Add(oneTensor("ByteStorage", 6, 0, []byte{2, 3}, []byte{1, 2}))
	f.Add(pickle("\x80\x02cos\nsystem\n", binUni("echo"), "\x85R."))
	f.Add(pickle("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94(", binUni("a"), "]\x94(K\x01K\x02e\x8c\x01b\x8a\x02\xff\x7fu."))
	recs := map[string][]byte{"0": f32bytes(1, 2, 3, 4, 5, 6), "1": []byte{1, 0, 2, 0, 3, 0}}
	f.Fuzz(func(t *testing.T, pkl []byte) {
		tf, err := Parse("fuzz", archive(t, pkl, recs))
		if err != nil {
			return
		}
		for _, name := range tf.Names() {
			info, _ := tf.Info(name)
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
			if v, err := tf.Float32(name); err == nil && len(v) != n {
				t.Fatalf("%q: Float32 gave %d values, want %d", name, len(v), n)
			}
		}
	})
}
