package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

type golden struct {
	Tensors map[string]struct {
		DType  string    `json:"dtype"`
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	} `json:"tensors"`
	Shared [][2]string `json:"shared"`
}

func readGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGolden reads state.bin (written by torch.save, see testdata/gen.py) and
// compares every tensor bit for bit with the values PyTorch printed.
func TestGolden(t *testing.T) {
	g := readGolden(t)
	f, err := Open("testdata/state.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for n := range g.Tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	if got := f.Names(); !slices.Equal(got, names) {
		t.Fatalf("names %v, want %v", got, names)
	}
	for _, name := range names {
		want := g.Tensors[name]
		info, ok := f.Info(name)
		if !ok || info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) {
			t.Errorf("%s: info %+v, want %s %v", name, info, want.DType, want.Shape)
			continue
		}
		if want.DType == "I64" {
			raw, err := f.Bytes(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range want.Values {
				if got := int64(binary.LittleEndian.Uint64(raw[8*i:])); got != int64(v) {
					t.Errorf("%s[%d] = %d, want %v", name, i, got, v)
				}
			}
			if _, err := f.Float32(name); err == nil || !strings.Contains(err.Error(), "I64") {
				t.Errorf("%s: Float32 of I64 gave %v, want a dtype error", name, err)
			}
			continue
		}
		got, err := f.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want.Values) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want.Values))
		}
		for i, v := range want.Values {
			if math.Float32bits(got[i]) != math.Float32bits(float32(v)) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], v)
				break
			}
		}
	}
	for _, p := range g.Shared {
		if !f.Shared(p[0], p[1]) {
			t.Errorf("%s and %s should share a storage", p[0], p[1])
		}
	}
	if f.Shared("half", "bf16") {
		t.Errorf("half and bf16 share a storage")
	}
}

// TestZeroCopy: contiguous F32 tensors are views of the mapping, tied
// tensors are the same memory, and a view with a storage offset starts at
// the right element.
func TestZeroCopy(t *testing.T) {
	f, err := Open("testdata/state.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inFile := func(v []float32) bool {
		p := uintptr(unsafe.Pointer(&v[0]))
		lo := uintptr(unsafe.Pointer(&f.buf[0]))
		return p >= lo && p+4*uintptr(len(v)) <= lo+uintptr(len(f.buf))
	}
	a, _ := f.Float32("emb.weight")
	b, _ := f.Float32("lin.weight")
	if !inFile(a) || &a[0] != &b[0] {
		t.Errorf("tied weights: in file %v, same memory %v", inFile(a), &a[0] == &b[0])
	}
	v, _ := f.Float32("offset_view")
	tr, _ := f.Float32("transposed")
	if !inFile(v) {
		t.Errorf("offset_view was copied")
	}
	if inFile(tr) {
		t.Errorf("a transposed view must be gathered into new memory")
	}
	// transposed is big.t(); offset_view is big[1:3]: big[1][0] is both
	// offset_view[0] and transposed[0][1] (row-major index 1 of the 6×4 result).
	if v[0] != tr[1] {
		t.Errorf("offset_view[0] = %v, transposed[0][1] = %v", v[0], tr[1])
	}
	if allocs := testing.AllocsPerRun(10, func() { f.Float32("emb.weight") }); allocs != 0 {
		t.Errorf("Float32 of an F32 tensor allocates %v times", allocs)
	}
}

func TestLegacy(t *testing.T) {
	_, err := Open("testdata/legacy.bin")
	if !errors.Is(err, ErrLegacy) || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "legacy.bin") || !strings.Contains(err.Error(), "1.6") {
		t.Fatalf("legacy file: %v", err)
	}
}

// pickle assembles pickle opcodes (strings are raw bytes).
func pickle(parts ...string) []byte { return []byte(strings.Join(parts, "")) }

func binUni(s string) string {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	return "X" + string(n[:]) + s
}

// archive builds a torch-style zip: arch/data.pkl and arch/data/KEY records.
func archive(t testing.TB, pkl []byte, records map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	put := func(name string, b []byte) {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(b)
	}
	put("arch/data.pkl", pkl)
	keys := make([]string, 0, len(records))
	for k := range records {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		put("arch/data/"+k, records[k])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oneTensor is the pickle of {"w": tensor} with the given storage class,
// numel, offset, size and stride (BININT1 operands).
func oneTensor(class string, numel, off byte, size, stride []byte) []byte {
	tup := func(v []byte) string {
		s := "("
		for _, x := range v {
			s += "K" + string([]byte{x})
		}
		return s + "t"
	}
	return pickle("\x80\x02", "ccollections\nOrderedDict\n)R", binUni("w"),
		"ctorch._utils\n_rebuild_tensor_v2\n(",
		"(", binUni("storage"), "ctorch\n"+class+"\n", binUni("0"), binUni("cpu"), "K"+string([]byte{numel}), "tQ",
		"K"+string([]byte{off}), tup(size), tup(stride), "\x89ccollections\nOrderedDict\n)Rt", "R", "s.")
}

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func TestHandMade(t *testing.T) {
	data := f32bytes(1, 2, 3, 4, 5, 6)
	f, err := Parse("hand", archive(t, oneTensor("FloatStorage", 6, 1, []byte{2, 2}, []byte{2, 1}), map[string][]byte{"0": data}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Float32("w")
	if err != nil || !slices.Equal(got, []float32{2, 3, 4, 5}) {
		t.Fatalf("offset 1, [2 2] stride [2 1]: %v %v", got, err)
	}
	// Strided: rows of stride 3 taking the first two columns.
	f, err = Parse("hand", archive(t, oneTensor("FloatStorage", 6, 0, []byte{2, 2}, []byte{3, 1}), map[string][]byte{"0": data}))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Float32("w"); err != nil || !slices.Equal(got, []float32{1, 2, 4, 5}) {
		t.Fatalf("stride [3 1]: %v %v", got, err)
	}
}

// TestRefuses: hostile or malformed files give errors that say what is wrong.
func TestRefuses(t *testing.T) {
	data := f32bytes(1, 2, 3, 4, 5, 6)
	good := oneTensor("FloatStorage", 6, 0, []byte{2, 3}, []byte{3, 1})
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"not a zip", []byte("hello"), "no zip signature"},
		{"empty", nil, "no zip signature"},
		{"truncated zip", archive(t, good, map[string][]byte{"0": data})[:100], "zip"},
		{"os.system", archive(t, pickle("\x80\x02cos\nsystem\n", binUni("echo pwned"), "\x85R."), nil), `refusing global "os.system"`},
		{"builtins.eval via STACK_GLOBAL", archive(t, pickle("\x80\x04", binUni("builtins"), binUni("eval"), "\x93", binUni("1"), "\x85R."), nil), `refusing global "builtins.eval"`},
		{"calling a storage class", archive(t, pickle("\x80\x02ctorch\nFloatStorage\n)R."), nil), "refusing to call torch.FloatStorage"},
		{"INST opcode", archive(t, pickle("\x80\x02(iposix\nsystem\n."), nil), "unsupported pickle opcode 0x69"},
		{"not a dict", archive(t, pickle("\x80\x02K\x01."), nil), "holds a int"},
		{"no STOP", archive(t, pickle("\x80\x02}"), nil), "without STOP"},
		{"underflow", archive(t, pickle("\x80\x02s."), nil), "stack underflow"},
		{"huge string", archive(t, pickle("\x80\x02X\xff\xff\xff\xff"), nil), "truncated pickle"},
		{"bad memo", archive(t, pickle("\x80\x02h\x05."), nil), "memo key 5"},
		{"list key", archive(t, pickle("\x80\x02}]K\x01s."), nil), "dict key of type list"},
		{"missing storage", archive(t, good, nil), "no zip entry arch/data/0"},
		{"short storage", archive(t, good, map[string][]byte{"0": data[:20]}), "holds 20 bytes, want 24"},
		{"past storage", archive(t, oneTensor("FloatStorage", 6, 1, []byte{2, 3}, []byte{3, 1}), map[string][]byte{"0": data}), "reach past storage"},
		{"too many elements", archive(t, oneTensor("FloatStorage", 6, 0, []byte{200, 200}, []byte{0, 0}), map[string][]byte{"0": data}), "more elements than its storage"},
		{"storage larger than file", archive(t, oneTensor("FloatStorage", 250, 0, []byte{1}, []byte{1}), nil), "more than the file holds"},
		{"unknown storage", archive(t, oneTensor("QInt8Storage", 6, 0, []byte{6}, []byte{1}), nil), `refusing global "torch.QInt8Storage"`},
		{"no data.pkl", archive(t, nil, nil)[:0], "no zip signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("evil.bin", c.file)
			if err == nil {
				f.Close()
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "evil.bin") || !errors.Is(err, ErrFormat) {
				t.Errorf("error %q, want it to name evil.bin, contain %q and match ErrFormat", err, c.want)
			}
		})
	}
	// A compressed record is refused rather than inflated.
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	fw, _ := w.CreateHeader(&zip.FileHeader{Name: "a/data.pkl", Method: zip.Deflate})
	fw.Write(pickle("\x80\x02}."))
	w.Close()
	if _, err := Parse("z.bin", buf.Bytes()); err == nil || !strings.Contains(err.Error(), "compressed") {
		t.Errorf("deflated data.pkl: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("testdata/nope.bin"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	f, err := Open("testdata/state.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	f.Close()
	if _, err := f.Float32("half"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("after Close: %v", err)
	}
}

// TestValueLimit: a pickle that creates millions of values is stopped, so
// memory stays bounded.
func TestValueLimit(t *testing.T) {
	pkl := append([]byte("\x80\x02"), bytes.Repeat([]byte("}"), maxPushes+10)...)
	_, err := Parse("big.bin", archive(t, pkl, nil))
	if err == nil || !strings.Contains(err.Error(), "values: not the pickle of a state_dict") {
		t.Errorf("error %v", err)
	}
}
