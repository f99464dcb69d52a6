package clip

import (
	"fmt"

	"github.com/loupe-ml/loupe/safetensors"
)

// halfSource is implemented by sources that can hand out F16 and BF16
// tensors as their stored bytes (an open checkpoint can: views of the
// mapped file), so that the model keeps them in that precision.
type halfSource interface {
	Half(name string) (dtype string, b []byte, ok bool)
}

// halfMat is a weight matrix kept in its stored 16-bit precision.
type halfMat struct {
	dtype string // "F16" or "BF16"
	b     []byte // little-endian, row-major
}

// rows converts rows [lo, hi) of a matrix with cols columns into dst.
func (h halfMat) rows(dst []float32, lo, hi, cols int) {
	safetensors.Widen(dst, h.dtype, h.b[2*lo*cols:2*hi*cols])
}

// halfLayer holds a layer's large matrices in stored precision; the
// biases and LayerNorm parameters (a few thousand values) are float32.
type halfLayer struct {
	q, k, v, out, fc1, fc2 halfMat
}

// getHalf returns the tensor's stored bytes when src keeps 16-bit tensors
// and this one is F16 or BF16, after checking its shape.
func (l *loader) getHalf(name string, shape ...int) (halfMat, bool) {
	hs, ok := l.src.(halfSource)
	if !ok || l.err != nil {
		return halfMat{}, false
	}
	full := l.prefix + name
	dtype, b, ok := hs.Half(full)
	if !ok {
		return halfMat{}, false
	}
	if have, _ := l.src.Shape(full); !equalShape(have, shape) {
		l.err = fmt.Errorf("clip: tensor %q has shape %v, want %v", full, have, shape)
		return halfMat{}, true
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(b) != 2*n {
		l.err = fmt.Errorf("clip: tensor %q holds %d bytes, want %d for %s shape %v", full, len(b), 2*n, dtype, shape)
		return halfMat{}, true
	}
	l.used[full] = true
	return halfMat{dtype, b}, true
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Half implements halfSource for checkpoints.
func (s ckptSource) Half(name string) (string, []byte, bool) {
	info, ok := s.c.Info(name)
	if !ok || (info.DType != "F16" && info.DType != "BF16") {
		return "", nil, false
	}
	b, err := s.c.Bytes(name)
	if err != nil {
		return "", nil, false
	}
	return info.DType, b, true
}

// layerWeights returns layer l's matrices as float32: the stored ones, or
// for a 16-bit checkpoint the layer converted into scratch.
func (m *Model) layerWeights(l int, scratch *Layer) *Layer {
	L := &m.Weights.Layers[l]
	h := L.half
	if h == nil {
		return L
	}
	H, I := m.Config.HiddenSize, m.Config.IntermediateSize
	if scratch.QKVW == nil {
		scratch.QKVW = make([]float32, 3*H*H)
		scratch.OutW = make([]float32, H*H)
		scratch.FC1W = make([]float32, I*H)
		scratch.FC2W = make([]float32, H*I)
	}
	h.q.rows(scratch.QKVW[:H*H], 0, H, H)
	h.k.rows(scratch.QKVW[H*H:2*H*H], 0, H, H)
	h.v.rows(scratch.QKVW[2*H*H:], 0, H, H)
	h.out.rows(scratch.OutW, 0, H, H)
	h.fc1.rows(scratch.FC1W, 0, I, H)
	h.fc2.rows(scratch.FC2W, 0, H, I)
	s := *L
	s.QKVW, s.OutW, s.FC1W, s.FC2W = scratch.QKVW, scratch.OutW, scratch.FC1W, scratch.FC2W
	*scratch = s
	return scratch
}
