package safetensors

import (
	"bytes"
	"os"
	"testing"
)

// FuzzOpen checks that parsing arbitrary bytes never panics, and that every
// file it accepts is self-consistent: each tensor's bytes match its shape and
// dtype, float tensors convert, and re-encoding float tensors parses again.
func FuzzOpen(f *testing.F) {
	if b, err := os.ReadFile("testdata/golden.safetensors"); err == nil {
		f.Add(b)
	}
	f.Add(file(`{}`, 0))
	f.Add(file(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}`, 4))
	f.Add(file(`{"a":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[],"data_offsets":[2,6]}}`, 6))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		var ts []Tensor
		for _, name := range sf.Names() {
			info, ok := sf.Info(name)
			if !ok {
				t.Fatalf("Names lists %q but Info does not know it", name)
			}
			raw, err := sf.Bytes(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			for _, d := range info.Shape {
				n *= d
			}
			size, _ := DTypeSize(info.DType)
			if len(raw) != n*size {
				t.Fatalf("%q: %d bytes for shape %v of %s", name, len(raw), info.Shape, info.DType)
			}
			switch info.DType {
			case "F32", "F16", "BF16":
				v, err := sf.Float32(name)
				if err != nil || len(v) != n {
					t.Fatalf("%q: Float32: %d values, %v", name, len(v), err)
				}
				ts = append(ts, Tensor{Name: name, Shape: info.Shape, Data: v, DType: info.DType})
			default:
				if _, err := sf.Float32(name); err == nil {
					t.Fatalf("%q: Float32 of %s succeeded", name, info.DType)
				}
			}
		}
		var buf bytes.Buffer
		if err := Encode(&buf, ts, sf.Metadata()); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		if _, err := Parse("re-encoded", buf.Bytes()); err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
	})
}
