package npy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInts(t *testing.T) {
	ids := []int32{0, 1, 50256, -3, 1 << 30}
	var b bytes.Buffer
	if err := EncodeInts(&b, ids); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInts(b.Bytes())
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	p := filepath.Join(t.TempDir(), "ids.npy")
	if err := WriteInts(p, ids); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadInts(p); err != nil || !slices.Equal(got, ids) {
		t.Fatalf("file: %v, %v", got, err)
	}
	// Other integer widths, as numpy writes them.
	for _, c := range []struct {
		descr string
		data  []byte
		want  []int32
	}{
		{"<u2", []byte{1, 0, 0xff, 0xff}, []int32{1, 65535}},
		{"|u1", []byte{7, 200}, []int32{7, 200}},
		{"<i8", []byte{5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []int32{5, -1}},
	} {
		var h bytes.Buffer
		writeHeader(&h, "{'descr': '"+c.descr+"', 'fortran_order': False, 'shape': (2,), }")
		got, err := DecodeInts(append(h.Bytes(), c.data...))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.descr, got, err, c.want)
		}
	}
	for _, c := range []struct {
		dict string
		data []byte
		want string
	}{
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4), "not supported"},
		{"{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", make([]byte, 8), "1-D"},
		{"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", make([]byte, 8), "truncated"},
		{"{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", []byte{0, 0, 0, 0, 1, 0, 0, 0}, "outside int32"},
	} {
		var h bytes.Buffer
		writeHeader(&h, c.dict)
		if _, err := DecodeInts(append(h.Bytes(), c.data...)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.dict, err, c.want)
		}
	}
	if _, err := ReadInts(filepath.Join(t.TempDir(), "none.npy")); err == nil {
		t.Error("missing file: no error")
	}
}

func FuzzDecodeInts(f *testing.F) {
	var b bytes.Buffer
	EncodeInts(&b, []int32{1, 2, 3})
	f.Add(b.Bytes())
	if i4, err := os.ReadFile(filepath.Join("testdata", "i4.npy")); err == nil {
		f.Add(i4)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<i4', 'shape': (99999999999,)}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := DecodeInts(b)
		if err == nil {
			h, _ := ParseHeader(b)
			if len(h.Shape) != 1 || len(ids) != h.Shape[0] {
				t.Fatalf("%d values for shape %v", len(ids), h.Shape)
			}
		}
	})
}
