package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// Tensor is a tensor to write: float32 values in Data, stored as DType: ""
// or "F32" (the default), "F16" or "BF16" (converted with
// round-to-nearest-even); or, when Raw is not nil, the stored bytes
// themselves (little-endian, row-major) of a tensor of any byte-sized
// DType (I8, BF16, I32, ...), written as they are, and Data must be nil.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
	DType string
	Raw   []byte
}

// WriteFile writes tensors and metadata (which may be nil) to path as a
// safetensors file, atomically: a reader never sees a partial file. The
// layout is that of the reference implementation: the header JSON lists
// __metadata__ first (keys sorted) and then the tensors in data order, and is
// padded with spaces to a multiple of 8 bytes; the data holds the tensors by
// descending dtype (F32, then BF16, then F16; see dtypeRank for the
// others, such as I8) and then by name. The output is
// therefore a deterministic function of the input.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	header, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if _, err := bw.Write(header); err != nil {
			return err
		}
		for _, t := range order {
			if err := writeData(bw, t); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// Encode writes tensors and metadata in safetensors form to w, exactly as
// WriteFile lays them out.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	bw := bufio.NewWriter(w)
	bw.Write(header)
	for _, t := range order {
		writeData(bw, t)
	}
	return bw.Flush()
}

func storedDType(t *Tensor) (string, error) {
	if t.Raw != nil {
		if t.Data != nil {
			return "", fmt.Errorf("tensor %q: both Data and Raw are set", t.Name)
		}
		if _, ok := DTypeSize(t.DType); !ok {
			return "", fmt.Errorf("tensor %q: raw data of unknown dtype %q", t.Name, t.DType)
		}
		return t.DType, nil
	}
	switch t.DType {
	case "", "F32":
		return "F32", nil
	case "F16", "BF16":
		return t.DType, nil
	}
	return "", fmt.Errorf("tensor %q: cannot store float32 data as dtype %q (want F32, F16 or BF16)", t.Name, t.DType)
}

// buildHeader validates tensors and returns the 8-byte length plus padded
// JSON header, and the tensors in data order.
func buildHeader(tensors []Tensor, metadata map[string]string) ([]byte, []*Tensor, error) {
	order := make([]*Tensor, len(tensors))
	dts := make(map[*Tensor]string, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "" || t.Name == "__metadata__" {
			return nil, nil, fmt.Errorf("tensor %d: invalid name %q", i, t.Name)
		}
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		dt, err := storedDType(t)
		if err != nil {
			return nil, nil, err
		}
		dts[t] = dt
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			if d != 0 && n > math.MaxInt/d {
				return nil, nil, fmt.Errorf("tensor %q: shape %v is too large", t.Name, t.Shape)
			}
			n *= d
		}
		if size, _ := DTypeSize(dt); t.Raw != nil && n*size != len(t.Raw) {
			return nil, nil, fmt.Errorf("tensor %q: shape %v of %s holds %d bytes but Raw has %d", t.Name, t.Shape, dt, n*size, len(t.Raw))
		}
		if t.Raw == nil && n != len(t.Data) {
			return nil, nil, fmt.Errorf("tensor %q: shape %v holds %d values but Data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		order[i] = t
	}
	sort.SliceStable(order, func(i, j int) bool {
		ri, rj := dtypeRank[dts[order[i]]], dtypeRank[dts[order[j]]]
		if ri != rj {
			return ri > rj
		}
		return order[i].Name < order[j].Name
	})

	// Hand-built JSON: encoding/json would sort the keys, and the reference
	// puts __metadata__ first and the tensors in data order.
	var js []byte
	js = append(js, '{')
	if metadata != nil {
		js = append(js, `"__metadata__":`...)
		js = appendJSON(js, metadata) // keys sorted

	}
	offset := 0
	for i, t := range order {
		if i > 0 || metadata != nil {
			js = append(js, ',')
		}
		js = appendJSON(js, t.Name)
		js = append(js, `:{"dtype":"`...)
		js = append(js, dts[t]...)
		js = append(js, `","shape":[`...)
		for k, d := range t.Shape {
			if k > 0 {
				js = append(js, ',')
			}
			js = fmt.Appendf(js, "%d", d)
		}
		size, _ := DTypeSize(dts[t])
		end := offset + size*len(t.Data) + len(t.Raw)
		js = fmt.Appendf(js, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	js = append(js, '}')
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	if len(js) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit", len(js), MaxHeaderSize)
	}
	out := make([]byte, 8, 8+len(js))
	binary.LittleEndian.PutUint64(out, uint64(len(js)))
	return append(out, js...), order, nil
}

// writeData writes t's values in its stored dtype, little-endian.
func writeData(w *bufio.Writer, t *Tensor) error {
	if t.Raw != nil {
		_, err := w.Write(t.Raw)
		return err
	}
	var buf [4096]byte
	dt, _ := storedDType(t)
	data := t.Data
	for len(data) > 0 {
		var n, used int
		switch dt {
		case "F32":
			for n+4 <= len(buf) && used < len(data) {
				binary.LittleEndian.PutUint32(buf[n:], math.Float32bits(data[used]))
				n += 4
				used++
			}
		case "F16":
			for n+2 <= len(buf) && used < len(data) {
				binary.LittleEndian.PutUint16(buf[n:], Float32ToHalf(data[used]))
				n += 2
				used++
			}
		case "BF16":
			for n+2 <= len(buf) && used < len(data) {
				binary.LittleEndian.PutUint16(buf[n:], Float32ToBFloat16(data[used]))
				n += 2
				used++
			}
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		data = data[used:]
	}
	return nil
}

// appendJSON appends v as compact JSON without HTML escaping (as serde_json
// writes it).
func appendJSON(dst []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // strings and string maps always encode
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}
