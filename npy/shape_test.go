package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteFloat32Shape(t *testing.T) {
	for _, shape := range [][]int{{1, 4, 2, 3}, {5}, {2, 3}, {0, 4}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*0.5 - 1
		}
		path := filepath.Join(t.TempDir(), "x.npy")
		if err := WriteFloat32Shape(path, data, shape); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(h.Shape, shape) || h.Descr != "<f4" || h.FortranOrder || h.DataOffset%64 != 0 {
			t.Fatalf("shape %v: header %+v", shape, h)
		}
		body := b[h.DataOffset:]
		if len(body) != 4*n {
			t.Fatalf("shape %v: %d data bytes, want %d", shape, len(body), 4*n)
		}
		for i, v := range data {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])); got != v {
				t.Fatalf("shape %v: value %d = %g, want %g", shape, i, got, v)
			}
		}
	}
	var buf bytes.Buffer
	if err := EncodeShape(&buf, make([]float32, 5), []int{2, 3}); err == nil {
		t.Error("5 values as (2, 3): want an error")
	}
	if err := WriteFloat32Shape(filepath.Join(t.TempDir(), "y.npy"), nil, []int{-1}); err == nil {
		t.Error("negative shape: want an error")
	}
}
