package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

type goldenFile struct {
	Metadata map[string]string `json:"metadata"`
	Tensors  []struct {
		Name  string   `json:"name"`
		DType string   `json:"dtype"`
		Shape []int    `json:"shape"`
		Src   []uint32 `json:"src"`
		Want  []uint32 `json:"want"`
	} `json:"tensors"`
}

func loadGolden(t *testing.T) goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func bitsToFloats(b []uint32) []float32 {
	out := make([]float32, len(b))
	for i, x := range b {
		out[i] = math.Float32frombits(x)
	}
	return out
}

// TestGoldenRead reads the file written by testdata/gen_golden.py (PyTorch
// conversions) and checks every value bit for bit.
func TestGoldenRead(t *testing.T) {
	g := loadGolden(t)
	f, err := Open("testdata/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for _, gt := range g.Tensors {
		names = append(names, gt.Name)
	}
	if got := f.Names(); !slices.Equal(got, names) {
		t.Fatalf("Names() = %v, want %v", got, names)
	}
	if got := f.Metadata(); len(got) != len(g.Metadata) || got["note"] != g.Metadata["note"] || got["format"] != "pt" {
		t.Errorf("Metadata() = %v, want %v", got, g.Metadata)
	}
	for _, gt := range g.Tensors {
		info, ok := f.Info(gt.Name)
		if !ok || info.DType != gt.DType || !slices.Equal(info.Shape, gt.Shape) || info.Name != gt.Name {
			t.Errorf("Info(%q) = %+v, %v; want %s %v", gt.Name, info, ok, gt.DType, gt.Shape)
		}
		vals, err := f.Float32(gt.Name)
		if err != nil {
			t.Fatalf("Float32(%q): %v", gt.Name, err)
		}
		if len(vals) != len(gt.Want) {
			t.Fatalf("Float32(%q): %d values, want %d", gt.Name, len(vals), len(gt.Want))
		}
		for i, v := range vals {
			if math.Float32bits(v) != gt.Want[i] {
				t.Errorf("%s[%d] = %#08x (%g), want %#08x (%g) from src %#08x", gt.Name, i,
					math.Float32bits(v), v, gt.Want[i], math.Float32frombits(gt.Want[i]), gt.Src[i])
			}
		}
	}
}

// TestGoldenWrite writes the golden tensors and compares the bytes with the
// reference script's output.
func TestGoldenWrite(t *testing.T) {
	g := loadGolden(t)
	want, err := os.ReadFile("testdata/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var ts []Tensor
	// Reverse order on input: the output must not depend on it.
	for i := len(g.Tensors) - 1; i >= 0; i-- {
		gt := g.Tensors[i]
		dt := gt.DType
		if dt == "F32" && i%2 == 0 {
			dt = "" // the default
		}
		ts = append(ts, Tensor{Name: gt.Name, Shape: gt.Shape, Data: bitsToFloats(gt.Src), DType: dt})
	}
	path := filepath.Join(t.TempDir(), "out.safetensors")
	if err := WriteFile(path, ts, g.Metadata); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		n := min(len(got), len(want))
		i := 0
		for i < n && got[i] == want[i] {
			i++
		}
		t.Fatalf("written file differs from the reference at byte %d (len %d vs %d)\ngot  %q\nwant %q",
			i, len(got), len(want), got[max(0, i-20):min(len(got), i+40)], want[max(0, i-20):min(len(want), i+40)])
	}
	var buf bytes.Buffer
	if err := Encode(&buf, ts, g.Metadata); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Encode differs from WriteFile (err %v)", err)
	}
}

func TestHalfExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e := (h >> 10) & 0x1f
		m := float64(h & 0x3ff)
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(int(sign))
		case e == 0x1f:
			if !math.IsNaN(float64(f)) {
				t.Fatalf("HalfToFloat32(%#04x) = %g, want NaN", h, f)
			}
			if got := Float32ToHalf(f); got != uint16(h&0x8000|0x7e00) {
				t.Fatalf("Float32ToHalf(NaN from %#04x) = %#04x", h, got)
			}
			continue
		case e == 0:
			want = sign * math.Ldexp(m, -24)
		default:
			want = sign * math.Ldexp(1+m/1024, e-15)
		}
		if float64(f) != want || math.Signbit(float64(f)) != (sign < 0) {
			t.Fatalf("HalfToFloat32(%#04x) = %g, want %g", h, f, want)
		}
		if back := Float32ToHalf(f); back != uint16(h) {
			t.Fatalf("Float32ToHalf(HalfToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestBFloat16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := BFloat16ToFloat32(uint16(h))
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BFloat16ToFloat32(%#04x) = %#08x", h, math.Float32bits(f))
		}
		back := Float32ToBFloat16(f)
		if math.IsNaN(float64(f)) {
			if back != uint16(h)|0x40 {
				t.Fatalf("Float32ToBFloat16(NaN %#04x) = %#04x, want %#04x", h, back, h|0x40)
			}
		} else if back != uint16(h) {
			t.Fatalf("Float32ToBFloat16(BFloat16ToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestHalfRounding checks rounding of values between representable halves
// against the nearest-even rule computed in float64.
func TestHalfRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) {
			continue
		}
		h := Float32ToHalf(f)
		got := float64(HalfToFloat32(h))
		// Neighbours of got in half precision: f must be at least as close to
		// got as to either of them.
		for _, nb := range []uint16{h + 1, h - 1} {
			if nb&0x7c00 == 0x7c00 && nb&0x3ff != 0 {
				continue // NaN neighbour
			}
			other := float64(HalfToFloat32(nb))
			if (nb^h)&0x8000 != 0 {
				continue // wrapped across the sign
			}
			dg, do := math.Abs(float64(f)-got), math.Abs(float64(f)-other)
			if math.IsInf(got, 0) {
				if math.Abs(float64(f)) < 65520 {
					t.Fatalf("Float32ToHalf(%g) overflowed to inf", f)
				}
				continue
			}
			if dg > do || (dg == do && h&1 != 0) {
				t.Fatalf("Float32ToHalf(%g) = %#04x (%g); %#04x (%g) is nearer or the even tie", f, h, got, nb, other)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var ts []Tensor
	for i, dt := range []string{"F32", "F16", "BF16", "", "F32"} {
		shape := []int{1 + r.IntN(5), 1 + r.IntN(7)}
		data := make([]float32, shape[0]*shape[1])
		for j := range data {
			data[j] = float32(r.NormFloat64())
		}
		ts = append(ts, Tensor{Name: string(rune('e'-i)) + ".w", Shape: shape, Data: data, DType: dt})
	}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Metadata()) != 0 {
		t.Errorf("Metadata() = %v, want empty", f.Metadata())
	}
	for _, tt := range ts {
		got, err := f.Float32(tt.Name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info(tt.Name)
		wantDT := tt.DType
		if wantDT == "" {
			wantDT = "F32"
		}
		if info.DType != wantDT || !slices.Equal(info.Shape, tt.Shape) {
			t.Errorf("%s: info %+v, want %s %v", tt.Name, info, wantDT, tt.Shape)
		}
		for j, v := range tt.Data {
			want := v
			switch wantDT {
			case "F16":
				want = HalfToFloat32(Float32ToHalf(v))
			case "BF16":
				want = BFloat16ToFloat32(Float32ToBFloat16(v))
			}
			if got[j] != want {
				t.Fatalf("%s[%d] = %g, want %g", tt.Name, j, got[j], want)
			}
		}
		raw, err := f.Bytes(tt.Name)
		if err != nil {
			t.Fatal(err)
		}
		size, _ := DTypeSize(wantDT)
		if len(raw) != size*len(tt.Data) {
			t.Errorf("%s: Bytes has %d bytes, want %d", tt.Name, len(raw), size*len(tt.Data))
		}
	}
	// Deterministic: writing again gives the same bytes.
	path2 := filepath.Join(t.TempDir(), "rt2.safetensors")
	if err := WriteFile(path2, ts, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(path2)
	if !bytes.Contains(b, []byte(`{"__metadata__":{},`)) || len(b) <= len(a) {
		t.Errorf("an empty metadata map should be written as {}: %q", b[:60])
	}
	if int(binary.LittleEndian.Uint64(a))%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", binary.LittleEndian.Uint64(a))
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"shape", []Tensor{{Name: "w", Shape: []int{2, 3}, Data: make([]float32, 5)}}, `tensor "w": shape [2 3] holds 6 values but Data has 5`},
		{"negative", []Tensor{{Name: "w", Shape: []int{-1}, Data: nil}}, "negative dimension"},
		{"dup", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}, {Name: "w", Shape: []int{1}, Data: []float32{1}}}, `"w" appears twice`},
		{"dtype", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}, DType: "I8"}}, `dtype "I8"`},
		{"noname", []Tensor{{Shape: []int{1}, Data: []float32{1}}}, "invalid name"},
		{"metaname", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, "invalid name"},
		{"rawsize", []Tensor{{Name: "q", Shape: []int{2, 3}, DType: "I8", Raw: make([]byte, 5)}}, `tensor "q": shape [2 3] of I8 holds 6 bytes but Raw has 5`},
		{"rawbf16", []Tensor{{Name: "q", Shape: []int{3}, DType: "BF16", Raw: make([]byte, 3)}}, `holds 6 bytes but Raw has 3`},
		{"rawboth", []Tensor{{Name: "q", Shape: []int{1}, DType: "I8", Raw: []byte{1}, Data: []float32{1}}}, `both Data and Raw`},
		{"rawdtype", []Tensor{{Name: "q", Shape: []int{1}, DType: "I4", Raw: []byte{1}}}, `raw data of unknown dtype "I4"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".safetensors")
			err := WriteFile(path, c.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("WriteFile: %v, want an error naming %s and containing %q", err, path, c.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("a failed write left %s behind", path)
			}
		})
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.safetensors"), nil, nil); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

// file builds a safetensors file from a header string and n data bytes.
func file(header string, n int) []byte {
	b := make([]byte, 8, 8+len(header)+n)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func TestInvalid(t *testing.T) {
	huge := make([]byte, 16)
	binary.LittleEndian.PutUint64(huge, MaxHeaderSize+1)
	past := make([]byte, 16)
	binary.LittleEndian.PutUint64(past, 9)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"huge header", huge, "exceeds the limit"},
		{"header past end", past, "exceeds the 8 bytes"},
		{"not object", file(`[1,2]`, 0), "does not start with '{'"},
		{"bad json", file(`{"a":`, 0), "not a JSON object"},
		{"bad utf8", file("{\"\xff\":1}", 0), "UTF-8"},
		{"entry not object", file(`{"a":3}`, 0), `tensor "a"`},
		{"no dtype", file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": no dtype`},
		{"no shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `tensor "a": no shape`},
		{"no offsets", file(`{"a":{"dtype":"F32","shape":[1]}}`, 4), `tensor "a": data_offsets has 0 values`},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), "has 3 values"},
		{"unknown dtype", file(`{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, 4), `unsupported dtype "F33"`},
		{"sub-byte dtype", file(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, 1), `unsupported dtype "F4"`},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "negative dimension"},
		{"float dim", file(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), `tensor "a"`},
		{"overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "too large"},
		{"overflow bytes", file(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}`, 4), "too large"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), `tensor "a": shape [2] of F32 needs 8 bytes but data_offsets [0, 4) hold 4`},
		{"backwards", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), "backwards"},
		{"past end", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 4), "run past"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), `tensor "a"`},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `tensor "a": gap of 4 bytes`},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `overlap tensor "a"`},
		{"trailing", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 6), "2 bytes after the last tensor"},
		{"trailing no tensors", file(`{}`, 1), "1 bytes after"},
		{"metadata not strings", file(`{"__metadata__":{"a":1}}`, 0), "__metadata__ is not a map of strings"},
		{"metadata list", file(`{"__metadata__":[]}`, 0), "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("bad.safetensors", c.data)
			if err == nil {
				t.Fatalf("Parse succeeded: %v", f.Names())
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.safetensors") || !errors.Is(err, ErrFormat) {
				t.Fatalf("error %q: want it to name the file, contain %q and wrap ErrFormat", err, c.want)
			}
		})
	}
}

func TestValidEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		names []string
	}{
		{"no tensors", file(`{}`, 0), nil},
		{"padded", file(`{}      `, 0), nil},
		{"null metadata", file(`{"__metadata__":null}`, 0), nil},
		{"zero sized", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"c":{"dtype":"BOOL","shape":[0,3],"data_offsets":[2,2]}}`, 2), []string{"a", "b", "c"}},
		{"unknown field ignored", file(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8],"extra":1}}`, 8), []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("ok.safetensors", c.data)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Names(), c.names) {
				t.Fatalf("Names() = %v, want %v", f.Names(), c.names)
			}
		})
	}
}

func TestFloat32Errors(t *testing.T) {
	f, err := Parse("x.safetensors", file(`{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, 8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("ids"); err == nil || !strings.Contains(err.Error(), `x.safetensors: tensor "ids" has dtype I64`) {
		t.Errorf("Float32 of I64: %v", err)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `x.safetensors: no tensor "nope"`) {
		t.Errorf("Float32 of a missing tensor: %v", err)
	}
	if _, ok := f.Info("nope"); ok {
		t.Error("Info of a missing tensor reported ok")
	}
	f.Close()
	if _, err := f.Float32("ids"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Float32 after Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("Open of a missing file: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Errorf("Open of a directory succeeded")
	}
}

// TestUnalignedF32 checks that F32 data at an offset that is not 4-byte
// aligned in memory is copied rather than misread.
func TestUnalignedF32(t *testing.T) {
	b := file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}`, 9)
	start := len(b) - 9
	binary.LittleEndian.PutUint32(b[start+1:], math.Float32bits(1.5))
	binary.LittleEndian.PutUint32(b[start+5:], math.Float32bits(-2))
	f, err := Parse("u.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Float32("b")
	if err != nil || !slices.Equal(got, []float32{1.5, -2}) {
		t.Fatalf("Float32 = %v, %v", got, err)
	}
}

// TestLargeZeroCopy opens a 150 MB F32 tensor (a sparse file, so the test is
// quick) and checks that Float32 returns a view of the mapping: no
// allocation, and the slice lies inside the mapped file.
func TestLargeZeroCopy(t *testing.T) {
	const n = 150 << 20 / 4
	hdr := `{"w":{"dtype":"F32","shape":[` + itoa(n/768) + `,768],"data_offsets":[0,` + itoa(n/768*768*4) + `]}}`
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	head := file(hdr, 0)
	if err := os.WriteFile(path, head, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(len(head))+int64(n/768*768*4)); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w []float32
	allocs := testing.AllocsPerRun(5, func() {
		w, err = f.Float32("w")
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("Float32 of a 150 MB F32 tensor made %v allocations, want 0 (a copy?)", allocs)
	}
	lo := uintptr(unsafe.Pointer(&f.buf[0]))
	p := uintptr(unsafe.Pointer(&w[0]))
	if p != lo+uintptr(len(head)) || len(w) != n/768*768 {
		t.Errorf("Float32 slice at %#x (len %d), want the mapping %#x + %d", p, len(w), lo, len(head))
	}
	// Writes are private: they do not reach the file.
	w[0] = 42
	again, _ := f.Float32("w")
	if again[0] != 42 {
		t.Errorf("a write to the view is not visible through the same File")
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Equal(raw[len(head):len(head)+4], []byte{0, 0, 0, 0}) {
		t.Errorf("a write to the view reached the file")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "b.safetensors")
	var ts []Tensor
	for i := range 150 {
		ts = append(ts, Tensor{Name: "layer." + itoa(i) + ".w", Shape: []int{64, 64}, Data: make([]float32, 64*64)})
	}
	if err := WriteFile(path, ts, map[string]string{"format": "pt"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkFloat32F16(b *testing.B) {
	ts := []Tensor{{Name: "w", Shape: []int{768, 768}, Data: make([]float32, 768*768), DType: "F16"}}
	var buf bytes.Buffer
	if err := Encode(&buf, ts, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Parse("b", buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(768 * 768 * 2)
	for b.Loop() {
		f.Float32("w")
	}
}

// TestBFloat16Rounding checks round-to-nearest-even on random float32s:
// the result is one of the two bfloat16 neighbours, the nearer one, and the
// even one on a tie.
func TestBFloat16Rounding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		b := r.Uint32()
		f := math.Float32frombits(b)
		if math.IsNaN(float64(f)) {
			continue
		}
		got := Float32ToBFloat16(f)
		lo := uint16(b >> 16) // truncation: toward zero in magnitude
		hi := lo + 1
		dl := math.Abs(float64(f) - float64(BFloat16ToFloat32(lo)))
		hv := float64(BFloat16ToFloat32(hi))
		if math.IsInf(hv, 0) { // rounding past the largest finite value: 2^128
			hv = math.Copysign(math.Ldexp(1, 128), hv)
		}
		dh := math.Abs(float64(f) - hv)
		want := lo
		if b&0xffff != 0 && (dh < dl || (dh == dl && lo&1 == 1)) {
			want = hi
		}
		if lo&0x7f80 == 0x7f80 { // lo is inf: stays inf
			want = lo
		}
		if got != want {
			t.Fatalf("Float32ToBFloat16(%g = %#08x) = %#04x, want %#04x", f, b, got, want)
		}
	}
}

// TestWriteRaw: tensors given as stored bytes (I8, BF16, I32) are written as
// they are, after the F32 ones (descending dtype), and read back unchanged.
func TestWriteRaw(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.safetensors")
	i8 := []byte{0x81, 0x7f, 0, 1, 2, 0xff}
	bf := []byte{0x80, 0x3f, 0x00, 0xc0}
	i32 := []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	err := WriteFile(path, []Tensor{
		{Name: "a.q", Shape: []int{2, 3}, DType: "I8", Raw: i8},
		{Name: "b.bf", Shape: []int{2}, DType: "BF16", Raw: bf},
		{Name: "c.f", Shape: []int{2}, Data: []float32{1.5, -2}},
		{Name: "d.i", Shape: []int{2}, DType: "I32", Raw: i32},
	}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		name, dtype string
		want        []byte
	}{{"a.q", "I8", i8}, {"b.bf", "BF16", bf}, {"d.i", "I32", i32}} {
		info, _ := f.Info(c.name)
		b, err := f.Bytes(c.name)
		if err != nil || info.DType != c.dtype || !bytes.Equal(b, c.want) {
			t.Errorf("%s: %s %v (%v), want %s %v", c.name, info.DType, b, err, c.dtype, c.want)
		}
	}
	if v, err := f.Float32("b.bf"); err != nil || v[0] != 1 || v[1] != -2 {
		t.Errorf("b.bf as float32: %v %v", v, err)
	}
	if v, err := f.Float32("c.f"); err != nil || v[0] != 1.5 || v[1] != -2 {
		t.Errorf("c.f: %v %v", v, err)
	}
	// Data order: F32 (rank 15), I32 (13), BF16 (12), I8 (5).
	cf, _ := f.Bytes("c.f")
	di, _ := f.Bytes("d.i")
	bb, _ := f.Bytes("b.bf")
	aq, _ := f.Bytes("a.q")
	off := func(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
	if !(off(cf) < off(di) && off(di) < off(bb) && off(bb) < off(aq)) {
		t.Errorf("data order: F32 %d, I32 %d, BF16 %d, I8 %d", off(cf), off(di), off(bb), off(aq))
	}
}
