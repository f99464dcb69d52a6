package npy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// want is the array gen.py writes: arange(12).reshape(3, 4)/8 - 0.5.
func want() []float32 {
	w := make([]float32, 12)
	for i := range w {
		w[i] = float32(i)/8 - 0.5
	}
	return w
}

func TestReadFixtures(t *testing.T) {
	tests := []struct {
		file    string
		rows    int
		cols    int
		wantErr string
	}{
		{"f4.npy", 3, 4, ""},
		{"f8.npy", 3, 4, ""},
		{"v2.npy", 3, 4, ""},
		{"v3.npy", 3, 4, ""},
		{"empty.npy", 0, 4, ""},
		{"fortran.npy", 0, 0, "fortran_order is True"},
		{"i4.npy", 0, 0, `dtype "<i4" is not supported`},
		{"be.npy", 0, 0, `dtype ">f4" is not supported`},
		{"one_d.npy", 0, 0, "shape (5,) is 1-D"},
		{"missing.npy", 0, 0, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, rows, cols, err := ReadFloat32(filepath.Join("testdata", tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rows != tc.rows || cols != tc.cols {
				t.Fatalf("shape %dx%d, want %dx%d", rows, cols, tc.rows, tc.cols)
			}
			if rows == 0 {
				return
			}
			for i, v := range want() {
				if data[i] != v {
					t.Fatalf("data[%d] = %v, want %v", i, data[i], v)
				}
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/f4.npy")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5, 9, 20, len(b) - 1} {
		if _, _, _, err := DecodeFloat32(b[:n]); err == nil {
			t.Errorf("%d of %d bytes: no error", n, len(b))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w := want()
	p := filepath.Join(dir, "x.npy")
	if err := WriteFloat32(p, w, 3, 4); err != nil {
		t.Fatal(err)
	}
	got, r, c, err := ReadFloat32(p)
	if err != nil || r != 3 || c != 4 {
		t.Fatalf("read back: %v %dx%d", err, r, c)
	}
	for i := range w {
		if got[i] != w[i] {
			t.Fatalf("got[%d] = %v, want %v", i, got[i], w[i])
		}
	}
	b, _ := os.ReadFile(p)
	if h, _ := ParseHeader(b); h.DataOffset%64 != 0 {
		t.Errorf("data offset %d not 64-byte aligned", h.DataOffset)
	}
	if err := WriteFloat32(p, w, 5, 4); err == nil {
		t.Error("WriteFloat32 with a wrong shape: no error")
	}

	fp := filepath.Join(dir, "x.fvecs")
	if err := WriteFvecs(fp, w, 3, 4); err != nil {
		t.Fatal(err)
	}
	got, r, c, err = Read(fp)
	if err != nil || r != 3 || c != 4 {
		t.Fatalf("fvecs read back: %v %dx%d", err, r, c)
	}
	for i := range w {
		if got[i] != w[i] {
			t.Fatalf("fvecs got[%d] = %v, want %v", i, got[i], w[i])
		}
	}
	fb, _ := os.ReadFile(fp)
	if _, _, _, err := DecodeFvecs(fb[:len(fb)-3]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated fvecs: err = %v", err)
	}
	fb[20] = 7 // second vector's dimension field
	if _, _, _, err := DecodeFvecs(fb); err == nil || !strings.Contains(err.Error(), "vector 1: dimension 7") {
		t.Errorf("mixed dimensions: err = %v", err)
	}
}

func FuzzDecodeFloat32(f *testing.F) {
	for _, name := range []string{"f4.npy", "f8.npy", "v2.npy", "fortran.npy", "one_d.npy", "i4.npy"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'shape': (99999999999, 99999999999)}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, rows, cols, err := DecodeFloat32(b)
		if err == nil && len(data) != rows*cols {
			t.Fatalf("%d values for %dx%d", len(data), rows, cols)
		}
	})
}

func FuzzDecodeFvecs(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64})
	f.Add([]byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		data, rows, cols, err := DecodeFvecs(b)
		if err == nil && len(data) != rows*cols {
			t.Fatalf("%d values for %dx%d", len(data), rows, cols)
		}
	})
}
