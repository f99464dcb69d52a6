package word2vec

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadGensimFiles(t *testing.T) {
	txt, err := Load("testdata/vectors.txt", FormatAuto, 0)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := Load("testdata/vectors.bin", FormatAuto, 0)
	if err != nil {
		t.Fatal(err)
	}
	if txt.Len() != 5000 || txt.Dim != 16 || bin.Len() != 5000 || bin.Dim != 16 {
		t.Fatalf("sizes: text %d×%d, binary %d×%d, want 5000×16", txt.Len(), txt.Dim, bin.Len(), bin.Dim)
	}
	for i := range txt.Words {
		if txt.Words[i] != bin.Words[i] {
			t.Fatalf("word %d: text %q, binary %q", i, txt.Words[i], bin.Words[i])
		}
	}
	// gensim writes repr(float32): the text values read back exactly.
	for i := range txt.Data {
		if txt.Data[i] != bin.Data[i] {
			t.Fatalf("value %d: text %v, binary %v", i, txt.Data[i], bin.Data[i])
		}
	}
	lim, err := Load("testdata/vectors.bin", FormatBinary, 10)
	if err != nil || lim.Len() != 10 || lim.Words[9] != bin.Words[9] {
		t.Fatalf("limit 10: %v, %v", lim, err)
	}
}

func TestRoundTrip(t *testing.T) {
	v, err := NewVectors([]string{"a", "bé", "c_d"}, 3, []float32{1, -2.5, 3e-8, 0, 1e10, -0.1, float32(math.Pi), 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []Format{FormatText, FormatBinary} {
		p := filepath.Join(dir, "v."+f.String())
		if err := v.Save(p, f); err != nil {
			t.Fatal(err)
		}
		for _, rf := range []Format{f, FormatAuto} {
			got, err := Load(p, rf, 0)
			if err != nil {
				t.Fatalf("%v as %v: %v", f, rf, err)
			}
			if strings.Join(got.Words, ",") != strings.Join(v.Words, ",") || got.Dim != 3 {
				t.Fatalf("%v: words %v dim %d", f, got.Words, got.Dim)
			}
			for i := range v.Data {
				if got.Data[i] != v.Data[i] {
					t.Fatalf("%v: value %d = %v, want %v", f, i, got.Data[i], v.Data[i])
				}
			}
		}
	}
	// The binary layout is the C tool's: "word " + 4·dim bytes + "\n".
	b, _ := os.ReadFile(filepath.Join(dir, "v.binary"))
	if want := "3 3\na "; !bytes.HasPrefix(b, []byte(want)) {
		t.Fatalf("binary starts %q, want %q", b[:8], want)
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(b[6:])); got != 1 {
		t.Fatalf("first value %v, want 1", got)
	}
	if b[6+12] != '\n' {
		t.Fatalf("binary row not followed by a newline")
	}
}

func TestReadGensimStyleBinaryWithoutNewlines(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("2 2\n")
	for i, w := range []string{"x", "y"} {
		buf.WriteString(w + " ")
		for j := 0; j < 2; j++ {
			binary.Write(&buf, binary.LittleEndian, float32(i*2+j))
		}
	}
	v, err := Read(&buf, FormatBinary, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Words[1] != "y" || v.Data[3] != 3 {
		t.Fatalf("got %v %v", v.Words, v.Data)
	}
}

func TestReadErrors(t *testing.T) {
	bin := func(header string, rows ...string) string {
		var b bytes.Buffer
		b.WriteString(header)
		for _, r := range rows {
			b.WriteString(r + " ")
			binary.Write(&b, binary.LittleEndian, []float32{1, 2})
			b.WriteByte('\n')
		}
		return b.String()
	}
	cases := []struct {
		name, data string
		format     Format
		want       string
	}{
		{"empty", "", FormatAuto, "empty file"},
		{"header words", "two 3\n", FormatText, "want two integers"},
		{"header one field", "3\n", FormatText, "want two integers"},
		{"header zero dim", "1 0\na\n", FormatText, "D > 0"},
		{"text truncated", "3 2\na 1 2\nb 3 4\n", FormatText, "header says 3 words, file ends after 2"},
		{"text short row", "2 2\na 1 2\nb 3\n", FormatText, `row 2 (word "b"): 1 values, want 2`},
		{"text long row", "1 2\na 1 2 3\n", FormatText, "3 values, want 2"},
		{"text not number", "1 2\na 1 x\n", FormatText, `value 2 "x" is not a number`},
		{"text duplicate", "2 1\na 1\na 2\n", FormatText, `duplicate word "a"`},
		{"text no vector", "1 2\nlonely\n", FormatText, "want a word then 2 numbers"},
		{"binary truncated row", bin("2 2\n", "a")[:len(bin("2 2\n", "a"))-3] + "", FormatBinary, "truncated"},
		{"binary missing row", bin("3 2\n", "a", "b"), FormatBinary, "row 3 of 3"},
		{"binary duplicate", bin("2 2\n", "a", "a"), FormatBinary, `duplicate word "a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(c.data), c.format, 0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	// A file whose header promises more rows than its size can hold fails
	// before allocating, naming the file.
	p := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(p, []byte(bin("1000000 2\n", "a")), 0o644)
	_, err := Load(p, FormatBinary, 0)
	if err == nil || !strings.Contains(err.Error(), "big.bin") || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("error %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("2 2\na 1 2\nb 3 4\n"), false)
	f.Add([]byte("1 2\nab \x00\x00\x80?\x00\x00\x00@\n"), true)
	f.Add([]byte("3 1\nx 1\n"), false)
	f.Add([]byte("1 100000000\n"), true)
	f.Add([]byte("99999999999 2\n"), false)
	if b, err := os.ReadFile("testdata/vectors.bin"); err == nil {
		f.Add(b[:300], true)
	}
	f.Fuzz(func(t *testing.T, data []byte, isBinary bool) {
		format := FormatText
		if isBinary {
			format = FormatBinary
		}
		v, err := Read(bytes.NewReader(data), format, 0)
		if err != nil {
			return
		}
		if len(v.Data) != v.Len()*v.Dim {
			t.Fatalf("%d words × %d dims but %d values", v.Len(), v.Dim, len(v.Data))
		}
		// What was read writes and reads back identically (NaNs aside).
		var buf bytes.Buffer
		if err := v.Write(&buf, format); err != nil {
			t.Fatal(err)
		}
		w, err := Read(&buf, format, 0)
		if err != nil {
			// Words read from binary may hold bytes the text format
			// cannot (spaces are impossible, but e.g. a leading newline
			// is stripped); only binary must round-trip.
			if format == FormatBinary {
				t.Fatalf("re-read: %v", err)
			}
			return
		}
		if w.Len() != v.Len() {
			t.Fatalf("re-read %d words, want %d", w.Len(), v.Len())
		}
	})
}

// TestLoadNonFinite: NaN or infinity in a vectors file is an error naming
// the file, the row and the word, in both formats.
func TestLoadNonFinite(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "nan.txt")
	os.WriteFile(txt, []byte("3 2\nx 1.0 2.0\ny nan 1.0\nz 0.5 0.5\n"), 0o644)
	inf := filepath.Join(dir, "inf.vec")
	os.WriteFile(inf, []byte("2 2\nx 1 2\nw 2 -Inf\n"), 0o644)
	var b bytes.Buffer
	b.WriteString("2 2\n")
	for _, r := range []struct {
		w string
		v [2]float32
	}{{"x", [2]float32{1, 2}}, {"yy", [2]float32{float32(math.Inf(1)), 1}}} {
		b.WriteString(r.w + " ")
		binary.Write(&b, binary.LittleEndian, r.v)
		b.WriteByte('\n')
	}
	bin := filepath.Join(dir, "inf.bin")
	os.WriteFile(bin, b.Bytes(), 0o644)
	for _, c := range []struct {
		path string
		want []string
	}{
		{txt, []string{"nan.txt", "row 2", `"y"`, "NaN"}},
		{inf, []string{"inf.vec", "row 2", `"w"`, "-Inf"}},
		{bin, []string{"inf.bin", "row 2", `"yy"`, "+Inf"}},
	} {
		for _, f := range []Format{FormatAuto, FormatText, FormatBinary} {
			if f == FormatBinary && c.path != bin || f == FormatText && c.path == bin {
				continue
			}
			_, err := Load(c.path, f, 0)
			if err == nil {
				t.Errorf("%s as %v: loaded non-finite values", c.path, f)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s as %v: error %q, want it to mention %s", c.path, f, err, w)
				}
			}
		}
	}
}

// TestDetectFormat: small text files whose values look like integers are
// text whatever their name; binary files are binary; the extension is a
// hint that a wrong guess can recover from.
func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	v, _ := NewVectors([]string{"x", "y", "z"}, 2, []float32{1, 2, 2, 1, 1, 1})
	var bin bytes.Buffer
	v.Write(&bin, FormatBinary)
	for _, c := range []struct {
		name, data string
	}{
		{"small2.vec", "3 2\nx 1 2\ny 2 1\nz 1 1\n"},
		{"small2.txt", "3 2\nx 1 2\ny 2 1\nz 1 1"},
		{"small2", "3 2\nx 1 2\ny 2 1\nz 1 1\n"},
		{"small2.bin", "3 2\nx 1 2\ny 2 1\nz 1 1\n"}, // misnamed text
		{"zero.txt", "3 2\nx 0 0\ny 0 1\nz 1 1\n"},
		{"crlf", "3 2\r\nx 1 2\r\ny 2 1\r\nz 1 1\r\n"},
		{"b.bin", bin.String()},
		{"b", bin.String()},
		{"b.txt", bin.String()}, // misnamed binary
	} {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, []byte(c.data), 0o644)
		got, err := Load(p, FormatAuto, 0)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if strings.Join(got.Words, ",") != "x,y,z" || got.Data[5] != 1 || got.Data[2] != 2 && got.Data[2] != 0 {
			t.Errorf("%s: words %v data %v", c.name, got.Words, got.Data)
		}
		r, err := Read(strings.NewReader(c.data), FormatAuto, 0)
		if err != nil || r.Len() != 3 {
			t.Errorf("%s: Read: %v", c.name, err)
		}
	}
}

// TestSaveFormatByName: FormatAuto saves .txt and .vec files as text (as
// Load reads them) and anything else as binary.
func TestSaveFormatByName(t *testing.T) {
	v, err := NewVectors([]string{"a", "b"}, 2, []float32{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, want := range map[string]string{"v.txt": "2 2\na 1 2\n", "v.vec": "2 2\na 1 2\n", "v.bin": "2 2\na \x00\x00\x80?"} {
		p := filepath.Join(dir, name)
		if err := v.Save(p, FormatAuto); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if !strings.HasPrefix(string(b), want) {
			t.Errorf("%s: %q, want it to start with %q", name, b, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"": FormatAuto, "auto": FormatAuto, "bin": FormatBinary, "binary": FormatBinary, "txt": FormatText, "text": FormatText} {
		if f, err := ParseFormat(s); err != nil || f != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", s, f, err, want)
		}
	}
	if _, err := ParseFormat("gz"); err == nil || !strings.Contains(err.Error(), `"gz"`) {
		t.Errorf("ParseFormat(gz): %v", err)
	}
}
