package safetensors

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// dtypeSizes gives the size in bytes of one element of each supported dtype.
// Sub-byte formats (F4, F6_*) are not supported.
var dtypeSizes = map[string]int{
	"BOOL":    1,
	"U8":      1,
	"I8":      1,
	"F8_E5M2": 1,
	"F8_E4M3": 1,
	"F8_E8M0": 1,
	"I16":     2,
	"U16":     2,
	"F16":     2,
	"BF16":    2,
	"I32":     4,
	"U32":     4,
	"F32":     4,
	"C64":     8,
	"F64":     8,
	"I64":     8,
	"U64":     8,
}

// dtypeRank orders dtypes as the reference implementation's Dtype enum does;
// its writer lays tensors out by descending rank, then by name.
var dtypeRank = map[string]int{
	"BOOL": 0, "F4": 1, "F6_E2M3": 2, "F6_E3M2": 3, "U8": 4, "I8": 5,
	"F8_E5M2": 6, "F8_E4M3": 7, "F8_E8M0": 8, "I16": 9, "U16": 10,
	"F16": 11, "BF16": 12, "I32": 13, "U32": 14, "F32": 15, "C64": 16,
	"F64": 17, "I64": 18, "U64": 19,
}

// DTypeSize returns the size in bytes of one element of dtype, and false if
// the dtype is unknown or not byte-sized.
func DTypeSize(dtype string) (int, bool) {
	n, ok := dtypeSizes[dtype]
	return n, ok
}

// HalfToFloat32 converts an IEEE 754 binary16 value, given by its bits, to
// float32. The conversion is exact for every input, including subnormals,
// infinities and NaNs (the NaN payload is kept).
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant * 2^-24; normalise the mantissa.
	e := uint32(113) // exponent of 2^-14 in float32 bias terms, plus one shift below
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	mant &= 0x3ff
	return math.Float32frombits(sign | e<<23 | mant<<13)
}

// Float32ToHalf converts f to IEEE 754 binary16 bits, rounding to nearest
// with ties to even as PyTorch does. Values too large become infinities, tiny
// values become subnormals or zero, and a NaN becomes the quiet NaN 0x7e00
// with its sign, as in PyTorch.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 // PyTorch's canonical quiet NaN
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): shift the full 24-bit significand.
		if e < -10 {
			return sign // rounds to zero (below half of the smallest subnormal)
		}
		m := mant | 0x800000
		shift := uint32(14 - e) // 13 for the mantissa width, 1-e to denormalise
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to infinity: still correct
	}
	return sign | uint16(r)
}

// BFloat16ToFloat32 converts bfloat16 bits to float32 (always exact).
func BFloat16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// Float32ToBFloat16 converts f to bfloat16 bits, rounding to nearest with
// ties to even as PyTorch does. A NaN keeps its sign and top payload bits
// and gets the quiet bit (0x7fc0 for the default NaN), as ml_dtypes does.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// ToFloat32 returns the little-endian elements b of dtype "F32", "F16" or
// "BF16" as float32: for F32 a view of b itself when b is 4-byte aligned on
// a little-endian machine (no copy), otherwise a converted copy; F16 and
// BF16 are converted exactly, in parallel. ok is false for other dtypes.
// The torch checkpoint reader shares it.
func ToFloat32(dtype string, b []byte) ([]float32, bool) {
	switch dtype {
	case "F32":
		n := len(b) / 4
		if n == 0 {
			return []float32{}, true
		}
		if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
			return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), true
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, true
	case "F16", "BF16":
		out := make([]float32, len(b)/2)
		Widen(out, dtype, b)
		return out, true
	}
	return nil, false
}

// Widen converts the little-endian 16-bit elements b of dtype "F16" or
// "BF16" into dst (len(b)/2 values, exactly, in parallel) and reports
// whether dtype was one of those. Models that keep 16-bit weights as
// stored widen them with it one layer at a time.
func Widen(dst []float32, dtype string, b []byte) bool {
	n := len(b) / 2
	dst = dst[:n]
	switch dtype {
	case "F16":
		halfTableOnce.Do(buildHalfTable)
		tab := halfTable
		kernels.Parallel(n, convertGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dst[i] = tab[uint16(b[2*i])|uint16(b[2*i+1])<<8]
			}
		})
	case "BF16":
		kernels.Parallel(n, convertGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dst[i] = math.Float32frombits(uint32(b[2*i])<<16 | uint32(b[2*i+1])<<24)
			}
		})
	default:
		return false
	}
	return true
}

// halfTable maps every binary16 bit pattern to its float32 value (256 KB,
// built on first use): a table lookup converts F16 tensors several times
// faster than the bit manipulation of HalfToFloat32.
var (
	halfTableOnce sync.Once
	halfTable     *[1 << 16]float32
)

func buildHalfTable() {
	t := new([1 << 16]float32)
	for i := range t {
		t[i] = HalfToFloat32(uint16(i))
	}
	halfTable = t
}

// convertGrain is the smallest share of a conversion given to one thread.
const convertGrain = 1 << 16

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
