package gpt2

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/internal/hfckpt"
	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/safetensors"
)

// Quantized checkpoint directories (what loupe quantize writes and Load
// reads directly). Version 1 of the layout, in model.safetensors (tensor
// names without the "transformer." prefix; C = n_embd, V = vocab_size):
//
//   - every block's four linear layers h.L.attn.c_attn, h.L.attn.c_proj,
//     h.L.mlp.c_fc and h.L.mlp.c_proj: NAME.weight in nn.Linear's [out, in]
//     layout (the transpose of GPT-2's Conv1D [in, out]), I8 for int8 with
//     NAME.weight.scale F32 [out] beside it (w ≈ scale[j]·q[j][k], values in
//     [-127, 127], per output channel and symmetric: scale = max|W[j,:]| / 127),
//     or BF16 for bf16 (round to nearest even), or F16 for f16 (IEEE half,
//     round to nearest even); NAME.bias F32 [out];
//   - the token embedding wte.weight [V, C], which is also the (tied) LM
//     head: I8 with wte.weight.scale F32 [V] (one scale per vocabulary
//     entry: the head's output channels), or BF16, or F16. The embedding
//     lookup reads the dequantized row, scale[id]·q[id][:] in float32
//     (BF16, F16: the row widened), so the lookup and the head use the same values. A
//     checkpoint with an untied lm_head.weight stores that head quantized
//     (lm_head.weight, lm_head.weight.scale) and wte.weight as F32;
//   - wpe.weight, the LayerNorms (ln_1, ln_2, ln_f) and every bias F32.
//
// The file's __metadata__ holds "format": "loupe" (not "pt", so that
// transformers refuses the file), MetaQuantization (the precision) and
// MetaFormatVersion; config.json holds the source's keys plus
// "quantization_config": {"quant_method": "loupe", "precision": P,
// "format_version": 1}.
const (
	// QuantMethod is config.json's quantization_config.quant_method of a
	// loupe quantize directory.
	QuantMethod = "loupe"
	// QuantizedFormatVersion is the version of the layout SaveQuantized
	// writes and Load reads.
	QuantizedFormatVersion = 1
	// MetaQuantization is the model.safetensors __metadata__ key that
	// holds the stored precision (Int8, BF16 or F16).
	MetaQuantization = "loupe.quantization"
	// MetaFormatVersion is the __metadata__ key that holds
	// QuantizedFormatVersion (as a decimal string).
	MetaFormatVersion = "loupe.format_version"
	// metaFormat is the __metadata__ "format" of a quantized file.
	metaFormat = "loupe"
	// scaleSuffix names the scale tensor beside an I8 weight.
	scaleSuffix = ".scale"
)

// ErrStoredQuantized is wrapped by the errors of what needs float32 weights
// that a model loaded from a loupe quantize directory does not have:
// training (ForwardPass with PassOptions.Train, and package train), Save,
// and Quantize to another precision.
var ErrStoredQuantized = errors.New("the weights are stored quantized (a loupe quantize directory): use the float32 checkpoint it was made from")

// rowLayer is a quantized layer that can read back one output's weights
// (kernels.QLinear, kernels.BF16Linear and kernels.F16Linear).
type rowLayer interface {
	linearLayer
	Row(j int, dst []float32)
}

// deqCache holds the float32 model dequantized from stored quantized
// weights, built on first use (float32Model).
type deqCache struct {
	once sync.Once
	m    *Model
}

// linSpec is one linear layer of a block in the quantized file.
type linSpec struct {
	name    string // "h.L.attn.c_attn"
	in, out int
	layer   *linearLayer
	bias    *[]float32
}

// linSpecs lists block l's four linear layers.
func linSpecs(c Config, l int, qb *qBlock, b *Block) []linSpec {
	C := c.NEmbd
	p := "h." + strconv.Itoa(l) + "."
	return []linSpec{
		{p + "attn.c_attn", C, 3 * C, &qb.attn, &b.AttnB},
		{p + "attn.c_proj", C, C, &qb.attnProj, &b.AttnProjB},
		{p + "mlp.c_fc", C, 4 * C, &qb.fc, &b.FCB},
		{p + "mlp.c_proj", 4 * C, C, &qb.proj, &b.ProjB},
	}
}

// SaveQuantized writes m, quantized (by Quantize, LoadWith's Quantize, or
// loaded from such a directory), to dir in the layout described above:
// config.json and model.safetensors, each written atomically (dir must
// exist; loupe quantize builds it beside its destination and renames it).
// config is the source checkpoint's config.json, whose keys are kept
// (quantization_config is added), or nil to write one from m.Config.
func (m *Model) SaveQuantized(dir string, config []byte) error {
	q := m.quant
	if q == nil {
		return errors.New("gpt2: SaveQuantized: the model is float32 (Quantize it first)")
	}
	c, w := m.Config, &m.Weights
	C, V := c.NEmbd, c.VocabSize
	cfg := map[string]json.RawMessage{}
	if config != nil {
		if err := json.Unmarshal(config, &cfg); err != nil {
			return fmt.Errorf("gpt2: SaveQuantized: config.json: %w", err)
		}
	} else {
		for k, v := range configMap(c) {
			b, _ := json.Marshal(v)
			cfg[k] = b
		}
	}
	qc, _ := json.Marshal(map[string]any{"quant_method": QuantMethod, "precision": q.precision, "format_version": QuantizedFormatVersion})
	cfg["quantization_config"] = qc
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("gpt2: SaveQuantized: %w", err)
	}

	var ts []safetensors.Tensor
	f32 := func(name string, shape []int, v []float32) {
		ts = append(ts, safetensors.Tensor{Name: name, Shape: shape, Data: v})
	}
	// quant adds a quantized weight [out, in] (and its scale) from the
	// layers parts, whose rows follow each other.
	quant := func(name string, parts []linearLayer, out, in int) error {
		switch q.precision {
		case Int8:
			raw := make([]byte, 0, out*in)
			scales := make([]float32, 0, out)
			for _, p := range parts {
				ql, ok := p.(*kernels.QLinear)
				if !ok {
					return fmt.Errorf("gpt2: SaveQuantized: %s: %T is not an int8 layer", name, p)
				}
				v, s := ql.Int8()
				raw = append(raw, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v))...)
				scales = append(scales, s...)
			}
			ts = append(ts, safetensors.Tensor{Name: name, Shape: []int{out, in}, DType: "I8", Raw: raw})
			f32(name+scaleSuffix, []int{out}, scales)
		case BF16:
			raw := make([]byte, 0, 2*out*in)
			for _, p := range parts {
				bl, ok := p.(*kernels.BF16Linear)
				if !ok {
					return fmt.Errorf("gpt2: SaveQuantized: %s: %T is not a bf16 layer", name, p)
				}
				for _, h := range bl.Bits() {
					raw = binary.LittleEndian.AppendUint16(raw, h)
				}
			}
			ts = append(ts, safetensors.Tensor{Name: name, Shape: []int{out, in}, DType: "BF16", Raw: raw})
		case F16:
			raw := make([]byte, 0, 2*out*in)
			for _, p := range parts {
				hl, ok := p.(*kernels.F16Linear)
				if !ok {
					return fmt.Errorf("gpt2: SaveQuantized: %s: %T is not an f16 layer", name, p)
				}
				for _, h := range hl.Bits() {
					raw = binary.LittleEndian.AppendUint16(raw, h)
				}
			}
			ts = append(ts, safetensors.Tensor{Name: name, Shape: []int{out, in}, DType: "F16", Raw: raw})
		default:
			return fmt.Errorf("gpt2: SaveQuantized: precision %q has no stored layout", q.precision)
		}
		return nil
	}
	f32("wpe.weight", []int{c.NPositions, C}, w.WPE)
	for l := range w.Blocks {
		b := &w.Blocks[l]
		p := "h." + strconv.Itoa(l) + "."
		f32(p+"ln_1.weight", []int{C}, b.LN1G)
		f32(p+"ln_1.bias", []int{C}, b.LN1B)
		f32(p+"ln_2.weight", []int{C}, b.LN2G)
		f32(p+"ln_2.bias", []int{C}, b.LN2B)
		for _, s := range linSpecs(c, l, &q.blocks[l], b) {
			if err := quant(s.name+".weight", []linearLayer{*s.layer}, s.out, s.in); err != nil {
				return err
			}
			f32(s.name+".bias", []int{s.out}, *s.bias)
		}
	}
	f32("ln_f.weight", []int{C}, w.LNFG)
	f32("ln_f.bias", []int{C}, w.LNFB)
	head := "wte.weight"
	if !q.tied {
		f32("wte.weight", []int{V, C}, w.WTE)
		head = "lm_head.weight"
	}
	if err := quant(head, q.head, V, C); err != nil {
		return err
	}
	meta := map[string]string{"format": metaFormat, MetaQuantization: q.precision, MetaFormatVersion: strconv.Itoa(QuantizedFormatVersion)}
	if err := safetensors.WriteFile(filepath.Join(dir, checkpoint.Safetensors), ts, meta); err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	if err := atomicfile.WriteFile(hfckpt.ConfigPath(dir), append(cb, '\n')); err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	return nil
}

// loadQuantized reads the weights of a loupe quantize directory (m.Config
// says which precision) from m.file: the quantized layers are built one
// tensor at a time from the mapped bytes, whose pages are released after
// each; the F32 tensors are used in place.
func (m *Model) loadQuantized(path string) error {
	f, c := m.file, m.Config
	C, V, P := c.NEmbd, c.VocabSize, c.NPositions
	p := c.Quantization
	meta := f.Metadata()
	if meta[MetaQuantization] != p || meta[MetaFormatVersion] != strconv.Itoa(QuantizedFormatVersion) {
		return fmt.Errorf("gpt2: %s: __metadata__ says %s %q, %s %q, but config.json's quantization_config says precision %q, format_version %d (not written by loupe quantize, or from another version)",
			path, MetaQuantization, meta[MetaQuantization], MetaFormatVersion, meta[MetaFormatVersion], p, QuantizedFormatVersion)
	}
	used := map[string]bool{}
	info := func(name, dtype string, shape []int) error {
		in, ok := f.Info(name)
		switch {
		case !ok:
			return fmt.Errorf("gpt2: %s: tensor %q is missing (a %s loupe quantize file with n_layer %d)", path, name, p, c.NLayer)
		case in.DType != dtype:
			return fmt.Errorf("gpt2: %s: tensor %q has dtype %s, want %s (a %s loupe quantize file)", path, name, in.DType, dtype, p)
		case !slices.Equal(in.Shape, shape):
			return fmt.Errorf("gpt2: %s: tensor %q has shape %v, want %v (from config.json)", path, name, in.Shape, shape)
		}
		used[name] = true
		return nil
	}
	f32 := func(name string, shape []int, dst *[]float32) error {
		if err := info(name, "F32", shape); err != nil {
			return err
		}
		v, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("gpt2: %w", err)
		}
		*dst = v
		return nil
	}
	// quant builds the layers of weight name [out, in], in parts of at
	// most rows outputs, each with its slice of bias (nil: none).
	quant := func(name string, out, in, rows int, bias []float32) ([]linearLayer, error) {
		var parts []linearLayer
		switch p {
		case Int8:
			if err := info(name, "I8", []int{out, in}); err != nil {
				return nil, err
			}
			var scales []float32
			if err := f32(name+scaleSuffix, []int{out}, &scales); err != nil {
				return nil, err
			}
			raw, err := f.Bytes(name)
			if err != nil {
				return nil, fmt.Errorf("gpt2: %w", err)
			}
			v := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw))
			for r0 := 0; r0 < out; r0 += rows {
				r1 := min(r0+rows, out)
				var b []float32
				if bias != nil {
					b = bias[r0:r1]
				}
				ql, err := kernels.NewQLinearInt8(v[r0*in:r1*in], scales[r0:r1], b, r1-r0, in, kernels.QInt8)
				if err != nil {
					return nil, fmt.Errorf("gpt2: %s: tensor %q (rows from %d): %w", path, name, r0, err)
				}
				parts = append(parts, ql)
				releaseBytes(raw[r0*in : r1*in])
			}
		case BF16, F16:
			dtype := "BF16"
			if p == F16 {
				dtype = "F16"
			}
			if err := info(name, dtype, []int{out, in}); err != nil {
				return nil, err
			}
			raw, err := f.Bytes(name)
			if err != nil {
				return nil, fmt.Errorf("gpt2: %w", err)
			}
			var tmp []uint16
			for r0 := 0; r0 < out; r0 += rows {
				r1 := min(r0+rows, out)
				var b []float32
				if bias != nil {
					b = bias[r0:r1]
				}
				part := raw[2*r0*in : 2*r1*in]
				if p == F16 {
					parts = append(parts, kernels.NewF16LinearBits(uint16s(part, &tmp), b, r1-r0, in))
				} else {
					parts = append(parts, kernels.NewBF16LinearBits(uint16s(part, &tmp), b, r1-r0, in))
				}
				releaseBytes(part)
			}
		}
		return parts, nil
	}

	w := &m.Weights
	w.Blocks = make([]Block, c.NLayer)
	q := &quantized{precision: p, blocks: make([]qBlock, c.NLayer), stored: true, deq: &deqCache{}}
	if err := f32("wpe.weight", []int{P, C}, &w.WPE); err != nil {
		return err
	}
	for l := range w.Blocks {
		b := &w.Blocks[l]
		pre := "h." + strconv.Itoa(l) + "."
		for _, t := range []struct {
			name string
			dst  *[]float32
		}{{"ln_1.weight", &b.LN1G}, {"ln_1.bias", &b.LN1B}, {"ln_2.weight", &b.LN2G}, {"ln_2.bias", &b.LN2B}} {
			if err := f32(pre+t.name, []int{C}, t.dst); err != nil {
				return err
			}
		}
		for _, s := range linSpecs(c, l, &q.blocks[l], b) {
			if err := f32(s.name+".bias", []int{s.out}, s.bias); err != nil {
				return err
			}
			parts, err := quant(s.name+".weight", s.out, s.in, s.out, *s.bias)
			if err != nil {
				return err
			}
			*s.layer = parts[0]
		}
	}
	if err := f32("ln_f.weight", []int{C}, &w.LNFG); err != nil {
		return err
	}
	if err := f32("ln_f.bias", []int{C}, &w.LNFB); err != nil {
		return err
	}
	head := "wte.weight"
	if in, ok := f.Info(head); ok && in.DType == "F32" {
		// An untied head: the embedding stays float32.
		if err := f32(head, []int{V, C}, &w.WTE); err != nil {
			return err
		}
		head = "lm_head.weight"
	} else {
		q.tied = true
	}
	var err error
	if q.head, err = quant(head, V, C, headRows, nil); err != nil {
		return err
	}
	if err := hfckpt.Unexpected("gpt2", path, f.Names(), func(name string) bool { return used[name] },
		fmt.Sprintf("part of a %s loupe quantize file for this config.json", p)); err != nil {
		return err
	}
	m.quant = q
	return nil
}

// uint16s returns the little-endian 16-bit values of b: b itself where the
// machine is little-endian and b is aligned, else decoded into *tmp.
func uint16s(b []byte, tmp *[]uint16) []uint16 {
	if len(b) == 0 {
		return nil
	}
	if nativeLittle && uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
	}
	if cap(*tmp) < len(b)/2 {
		*tmp = make([]uint16, len(b)/2)
	}
	out := (*tmp)[:len(b)/2]
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

// nativeLittle reports whether the machine is little-endian.
var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// storedQuantized reports whether m was loaded from a loupe quantize
// directory (it has no float32 copy of its quantized weights).
func (m *Model) storedQuantized() bool { return m.quant != nil && m.quant.stored }

// float32Model returns the model whose float32 weights the differentiable
// pass (ForwardPass, Backward, Embed, Pass.Logits) reads: m itself, except for
// a model loaded from a loupe quantize directory, whose float32 weights
// are dequantized from the stored ones on first use (every linear layer
// and the head: V·C + 12·L·C² floats, the size of the float32 checkpoint's
// matrices) and kept until the model is closed.
func (m *Model) float32Model() *Model {
	if !m.storedQuantized() {
		return m
	}
	d := m.quant.deq
	d.once.Do(func() { d.m = m.dequantize() })
	return d.m
}

// dequantize builds a float32 Model from a stored quantized one: the
// linear weights back in the Conv1D layout, each value the stored
// quantized value times its scale (int8) or widened (bf16, f16); the F32
// tensors shared.
func (m *Model) dequantize() *Model {
	c, q := m.Config, m.quant
	C, V := c.NEmbd, c.VocabSize
	d := &Model{Config: m.Config, Weights: m.Weights}
	d.Config.Quantization = ""
	d.Weights.Blocks = slices.Clone(m.Weights.Blocks)
	conv1D := func(l linearLayer, in, out int) []float32 {
		rl := l.(rowLayer)
		W := make([]float32, in*out)
		row := make([]float32, in)
		for j := range out {
			rl.Row(j, row)
			for i, v := range row {
				W[i*out+j] = v
			}
		}
		return W
	}
	for l := range d.Weights.Blocks {
		b, qb := &d.Weights.Blocks[l], q.blocks[l]
		b.AttnW = conv1D(qb.attn, C, 3*C)
		b.AttnProjW = conv1D(qb.attnProj, C, C)
		b.FCW = conv1D(qb.fc, C, 4*C)
		b.ProjW = conv1D(qb.proj, 4*C, C)
	}
	head := make([]float32, V*C)
	for i, part := range q.head {
		rl := part.(rowLayer)
		for r := range headPartRows(i, V) {
			rl.Row(r, head[(i*headRows+r)*C:])
		}
	}
	d.Weights.LMHead = head
	if q.tied {
		d.Weights.WTE = head
	}
	return d
}

// headPartRows is the number of vocabulary rows in part i of the head.
func headPartRows(i, V int) int { return min(headRows, V-i*headRows) }

// embedRow writes token id's embedding, the dequantized row of the tied
// quantized head, into dst [C]; false when the head is not tied (the
// embedding is Weights.WTE).
func (q *quantized) embedRow(id int, dst []float32) bool {
	if !q.tied {
		return false
	}
	q.head[id/headRows].(rowLayer).Row(id%headRows, dst)
	return true
}

// CheckTrainable reports why m's weights cannot be trained: an error
// wrapping ErrStoredQuantized for a model loaded from a loupe quantize
// directory, ErrQuantizedTraining for one quantized at load (train the
// float32 model: Quantize(Float32) or a copy from Clone), nil otherwise.
func (m *Model) CheckTrainable() error {
	switch {
	case m.storedQuantized():
		return fmt.Errorf("gpt2: training: %w", ErrStoredQuantized)
	case m.quant != nil:
		return ErrQuantizedTraining
	}
	return nil
}
