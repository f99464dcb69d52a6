package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// ReadInts reads a 1-D integer .npy file (int8 to int64 or uint8 to
// uint64, little-endian, C order), such as the token ids nanoGPT's and
// loupe's data preparation write, and returns its values as int32. A value
// outside int32's range is an error.
func ReadInts(path string) ([]int32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	v, err := DecodeInts(b)
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return v, nil
}

// DecodeInts is ReadInts for the bytes of a .npy file already in memory.
func DecodeInts(b []byte) ([]int32, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	size, signed := 0, false
	switch h.Descr {
	case "|i1", "i1", "<i1":
		size, signed = 1, true
	case "|u1", "u1", "<u1":
		size = 1
	case "<i2":
		size, signed = 2, true
	case "<u2":
		size = 2
	case "<i4":
		size, signed = 4, true
	case "<u4":
		size = 4
	case "<i8":
		size, signed = 8, true
	case "<u8":
		size = 8
	default:
		return nil, fmt.Errorf("dtype %q is not supported: want a little-endian integer type such as '<u2' or '<i4'", h.Descr)
	}
	if h.FortranOrder && len(h.Shape) > 1 {
		return nil, errors.New("fortran_order is True: want a C-order array")
	}
	if len(h.Shape) != 1 {
		return nil, fmt.Errorf("shape %s is %d-D: want a 1-D array of token ids", shapeString(h.Shape), len(h.Shape))
	}
	n := h.Shape[0]
	if n < 0 || n > math.MaxInt/8 {
		return nil, fmt.Errorf("shape %s is too large", shapeString(h.Shape))
	}
	body := b[h.DataOffset:]
	if len(body) < n*size {
		return nil, fmt.Errorf("truncated: shape %s of %s needs %d data bytes, file has %d", shapeString(h.Shape), h.Descr, n*size, len(body))
	}
	out := make([]int32, n)
	for i := range out {
		var v int64
		switch {
		case size == 1 && signed:
			v = int64(int8(body[i]))
		case size == 1:
			v = int64(body[i])
		case size == 2 && signed:
			v = int64(int16(binary.LittleEndian.Uint16(body[2*i:])))
		case size == 2:
			v = int64(binary.LittleEndian.Uint16(body[2*i:]))
		case size == 4 && signed:
			v = int64(int32(binary.LittleEndian.Uint32(body[4*i:])))
		case size == 4:
			v = int64(binary.LittleEndian.Uint32(body[4*i:]))
		case signed:
			v = int64(binary.LittleEndian.Uint64(body[8*i:]))
		default:
			u := binary.LittleEndian.Uint64(body[8*i:])
			if u > math.MaxInt32 {
				return nil, fmt.Errorf("value %d at index %d is outside int32", u, i)
			}
			v = int64(u)
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("value %d at index %d is outside int32", v, i)
		}
		out[i] = int32(v)
	}
	return out, nil
}

// WriteInts writes ids as a 1-D int32 .npy file, atomically.
func WriteInts(path string, ids []int32) error {
	return atomicfile.Write(path, func(w io.Writer) error { return EncodeInts(w, ids) })
}

// EncodeInts writes ids as a 1-D little-endian int32 .npy file to w.
func EncodeInts(w io.Writer, ids []int32) error {
	dict := fmt.Sprintf("{'descr': '<i4', 'fortran_order': False, 'shape': (%d,), }", len(ids))
	if err := writeHeader(w, dict); err != nil {
		return err
	}
	buf := make([]byte, 4*len(ids))
	for i, v := range ids {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
	}
	_, err := w.Write(buf)
	return err
}
