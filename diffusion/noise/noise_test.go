package noise

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

type goldenCall struct {
	Op     string   `json:"op"`
	Shape  []int    `json:"shape"`
	SHA256 string   `json:"sha256"`
	Bits   []string `json:"bits"`
}

type goldenFile map[string]struct {
	Torch      string `json:"torch"`
	Capability string `json:"capability"`
	Cases      []struct {
		Seed  string       `json:"seed"`
		Calls []goldenCall `json:"calls"`
	} `json:"cases"`
}

func loadGoldens(t *testing.T) goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/randn.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("testdata/randn.json: %v", err)
	}
	return g
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// TestMatchesTorch replays every golden sequence: each call's bytes must
// hash the same as PyTorch's, and small calls must match bit for bit.
func TestMatchesTorch(t *testing.T) {
	goldens := loadGoldens(t)
	for _, pathName := range []string{"avx2", "scalar"} {
		path, err := ParsePath(pathName)
		if err != nil {
			t.Fatal(err)
		}
		set, ok := goldens[pathName]
		if !ok || len(set.Cases) == 0 {
			t.Fatalf("testdata/randn.json has no %q cases", pathName)
		}
		var scalarMismatch, scalarTotal int
		for _, c := range set.Cases {
			seed, err := strconv.ParseUint(c.Seed, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			g := NewGenerator(seed)
			g.Path = path
			for k, call := range c.Calls {
				n := numel(call.Shape)
				var buf []byte
				var got []uint64
				switch call.Op {
				case "randn":
					x := g.Randn(n)
					for _, v := range x {
						buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
						got = append(got, uint64(math.Float32bits(v)))
					}
				case "randn16":
					for _, v := range g.RandnFloat16(n) {
						buf = binary.LittleEndian.AppendUint16(buf, v)
						got = append(got, uint64(v))
					}
				case "rand":
					for range n {
						v := g.Float32()
						buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
						got = append(got, uint64(math.Float32bits(v)))
					}
				case "rand64":
					for range n {
						v := g.Float64()
						buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
						got = append(got, math.Float64bits(v))
					}
				default:
					t.Fatalf("unknown op %q", call.Op)
				}
				sum := sha256.Sum256(buf)
				name := pathName + "/seed=" + c.Seed + "/call" + strconv.Itoa(k) + "/" + call.Op + shapeString(call.Shape)
				exact := hex.EncodeToString(sum[:]) == call.SHA256
				if call.Bits != nil {
					mism := 0
					first := -1
					for i, h := range call.Bits {
						w, _ := strconv.ParseUint(h, 16, 64)
						if w != got[i] {
							mism++
							if first < 0 {
								first = i
							}
						}
					}
					if mism > 0 && path == PathScalar && call.Op == "randn" && n >= 16 {
						// glibc's logf/cosf/sinf against Go's math: count,
						// bound below.
						scalarMismatch += mism
					} else if mism > 0 {
						t.Errorf("%s: %d of %d values differ, first at %d: got %08x want %s", name, mism, n, first, got[first], call.Bits[first])
					}
				} else if !exact {
					if path == PathScalar && call.Op == "randn" {
						scalarMismatch++ // at least one
					} else {
						t.Errorf("%s: sha256 differs from PyTorch's", name)
					}
				}
				if path == PathScalar && call.Op == "randn" && n >= 16 {
					scalarTotal += n
				}
			}
		}
		if path == PathScalar {
			t.Logf("scalar path: %d differing values (or hashes) in %d values", scalarMismatch, scalarTotal)
			if scalarMismatch*1000 > scalarTotal {
				t.Errorf("scalar path: %d differing values in %d, more than 0.1%%", scalarMismatch, scalarTotal)
			}
		}
	}
}

func shapeString(s []int) string {
	out := "["
	for i, d := range s {
		if i > 0 {
			out += ","
		}
		out += strconv.Itoa(d)
	}
	return out + "]"
}

func TestManualSeedClearsCache(t *testing.T) {
	g := NewGenerator(7)
	a := g.Randn(1) // caches a second sample
	g.ManualSeed(7)
	b := g.Randn(1)
	if a[0] != b[0] {
		t.Fatalf("after ManualSeed(7) first sample %v, want %v", b[0], a[0])
	}
	if g.InitialSeed() != 7 {
		t.Fatalf("InitialSeed %d, want 7", g.InitialSeed())
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Path
		ok   bool
	}{{"", PathAVX2, true}, {"avx2", PathAVX2, true}, {"scalar", PathScalar, true}, {"default", PathScalar, true}, {"neon", 0, false}} {
		got, err := ParsePath(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParsePath(%q) = %v, %v", tc.in, got, err)
		}
	}
	if PathAVX2.String() != "avx2" || PathScalar.String() != "scalar" {
		t.Error("Path.String")
	}
}

// TestFMA32 checks the single rounding of fma32 against big-number
// arithmetic on values where a separate multiply and add round differently.
func TestFMA32(t *testing.T) {
	g := NewGenerator(3)
	differs := 0
	for range 200000 {
		a := math.Float32frombits(g.Uint32()&0x3fffffff | 0x3c000000)
		b := math.Float32frombits(g.Uint32()&0x3fffffff | 0x3c000000)
		c := -float32(float64(a) * float64(b) * (1 + float64(g.Float32()-0.5)*1e-6))
		got := fma32(a, b, c)
		want := exactFMA32(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
		if got != float32(a*b)+c {
			differs++
		}
	}
	if differs == 0 {
		t.Fatal("no case where fused and unfused results differ: the test is too weak")
	}
}
