package hfckpt

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/safetensors"
)

func TestTokenID(t *testing.T) {
	for _, tc := range []struct {
		js   string
		want int
		err  string
	}{
		{`null`, -1, ""}, {`3`, 3, ""}, {`[4, 5]`, 4, ""}, {`[]`, -1, ""},
		{`10`, -1, "want an id in [0, 10)"}, {`-1`, -1, "want an id"}, {`1.5`, -1, "want an id"},
		{`"2"`, -1, "has type string"},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.js), &v); err != nil {
			t.Fatal(err)
		}
		got, err := TokenID("eos_token_id", v, 10)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "eos_token_id") {
				t.Errorf("%s: error %v, want %q", tc.js, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v, want %d", tc.js, got, err, tc.want)
		}
	}
}

// TestSetTokenIDs: a present field is read and checked, an absent one
// keeps its default unless outside the vocabulary, and PutTokenIDs writes
// what SetTokenIDs reads back.
func TestSetTokenIDs(t *testing.T) {
	pad, eos, bos, start := 1, 2, 58100, 7
	js := `{"pad_token_id": 3, "eos_token_id": null, "forced_bos_token_id": [4]}`
	if err := SetTokenIDs([]byte(js), []TokenField{
		{Name: "pad_token_id", Dst: &pad, Vocab: 10},
		{Name: "eos_token_id", Dst: &eos, Vocab: 10},
		{Name: "bos_token_id", Dst: &bos, Vocab: 10},
		{Name: "decoder_start_token_id", Dst: &start, Vocab: 10},
	}); err != nil || pad != 3 || eos != -1 || bos != -1 || start != 7 {
		t.Errorf("SetTokenIDs: pad %d eos %d bos %d start %d, err %v", pad, eos, bos, start, err)
	}
	for _, c := range []struct{ js, want string }{
		{`{"eos_token_id": 10}`, "eos_token_id = 10, want an id in [0, 10)"},
		{`{"eos_token_id": "2"}`, "eos_token_id has type string"},
		{`[1]`, "config.json: "},
	} {
		if err := SetTokenIDs([]byte(c.js), []TokenField{{Name: "eos_token_id", Dst: &eos, Vocab: 10}}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.js, err, c.want)
		}
	}
	cfg := map[string]any{}
	PutTokenIDs(cfg, map[string]int{"pad_token_id": 0, "eos_token_id": -1})
	b, err := json.Marshal(cfg)
	if err != nil || string(b) != `{"eos_token_id":null,"pad_token_id":0}` {
		t.Errorf("PutTokenIDs: %s, %v", b, err)
	}
	pad, eos = 5, 5
	if err := SetTokenIDs(b, []TokenField{{Name: "pad_token_id", Dst: &pad, Vocab: 10}, {Name: "eos_token_id", Dst: &eos, Vocab: 10}}); err != nil || pad != 0 || eos != -1 {
		t.Errorf("read back: pad %d eos %d, err %v", pad, eos, err)
	}
}

// TestLoad: Load passes config.json's contents and the opened weights to
// build, and returns the first error of the three steps.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	ts := []safetensors.Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}, DType: "F32"}}
	if err := Save("pkg", dir, map[string]any{"model_type": "toy"}, ts); err != nil {
		t.Fatal(err)
	}
	readCfg := func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return string(b), err
	}
	got, err := Load("pkg", dir, readCfg, func(cfg string, f *checkpoint.Checkpoint) ([]float32, error) {
		if !strings.Contains(cfg, `"toy"`) {
			t.Errorf("config %q", cfg)
		}
		return f.Float32("w")
	})
	if err != nil || len(got) != 2 || got[1] != 2 {
		t.Errorf("Load: %v, %v", got, err)
	}
	if _, err := Load("pkg", t.TempDir(), readCfg, func(string, *checkpoint.Checkpoint) (int, error) { return 1, nil }); err == nil {
		t.Error("no config.json: no error")
	}
	empty := t.TempDir()
	os.WriteFile(ConfigPath(empty), []byte("{}"), 0o644)
	if _, err := Load("pkg", empty, readCfg, func(string, *checkpoint.Checkpoint) (int, error) { return 1, nil }); err == nil || !strings.HasPrefix(err.Error(), "pkg: ") {
		t.Errorf("no weights: error %v", err)
	}
	want := errors.New("bad weights")
	if _, err := Load("pkg", dir, readCfg, func(string, *checkpoint.Checkpoint) (int, error) { return 0, want }); err != want {
		t.Errorf("build error: %v", err)
	}
}

func TestSetInts(t *testing.T) {
	five, zero, big := 5, 0, 9
	a, b := 1, 2
	if err := SetInts([]IntField{{Name: "a", P: &five, Dst: &a, Limit: 8}, {Name: "b", Dst: &b, Limit: 8}}); err != nil || a != 5 || b != 2 {
		t.Errorf("SetInts: a %d b %d err %v", a, b, err)
	}
	for _, p := range []*int{&zero, &big} {
		err := SetInts([]IntField{{Name: "n_layer", P: p, Dst: &a, Limit: 8}})
		if err == nil || !strings.Contains(err.Error(), "n_layer = ") || !strings.Contains(err.Error(), "[1, 8]") {
			t.Errorf("SetInts(%d): %v", *p, err)
		}
	}
}

// TestSaveRead writes a checkpoint with Save and reads it back with a
// Reader: shapes checked, missing and unexpected tensors named.
func TestSaveRead(t *testing.T) {
	dir := t.TempDir()
	w, b, extra := make([]float32, 6), make([]float32, 3), make([]float32, 2)
	Uniform(w, "w", 1, 0, 0.2)
	Uniform(b, "b", 1, 1, 0.25)
	ts := []safetensors.Tensor{{Name: "w", Shape: []int{2, 3}, Data: w, DType: "F32"},
		{Name: "b", Shape: []int{3}, Data: b, DType: "F32"}, {Name: "x", Shape: []int{2}, Data: extra, DType: "F32"}}
	if err := Save("pkg", dir, map[string]any{"model_type": "toy"}, ts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ConfigPath(dir)); err != nil {
		t.Fatal(err)
	}
	f, err := Open("pkg", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader("pkg", f, "(config.json: toy)")
	var gotW []float32
	s := Tensor("w", &gotW, 2, 3)
	if s.Size() != 6 {
		t.Errorf("Size %d, want 6", s.Size())
	}
	if *s.Dst, err = r.Read(s.Name, s.Shape); err != nil || gotW[5] != w[5] {
		t.Fatalf("Read w: %v", err)
	}
	if _, err := r.Read("b", []int{4}); err == nil || !strings.Contains(err.Error(), `"b" has shape [3], want [4]`) {
		t.Errorf("mis-shaped: %v", err)
	}
	if _, err := r.Read("y", []int{1}); err == nil || !strings.Contains(err.Error(), `"y" is missing (config.json: toy)`) {
		t.Errorf("missing: %v", err)
	}
	r.Use("b", "absent")
	if err := r.Unexpected("a toy parameter"); err == nil || !strings.Contains(err.Error(), `unexpected tensor "x" (not a toy parameter)`) {
		t.Errorf("unexpected: %v", err)
	}
	r.Use("x")
	if err := r.Unexpected("a toy parameter"); err != nil {
		t.Errorf("all used: %v", err)
	}
	if _, err := Open("pkg", t.TempDir()); err == nil || !strings.Contains(err.Error(), "the weights files loupe reads") {
		t.Errorf("no weights: %v", err)
	}
}

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	parse := func(b []byte) (map[string]int, error) {
		m := map[string]int{}
		return m, json.Unmarshal(b, &m)
	}
	if _, err := ReadConfig("m", ConfigPath(dir), parse); err == nil || !strings.HasPrefix(err.Error(), "m: ") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(ConfigPath(dir), []byte(`{"a": 1`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig("m", ConfigPath(dir), parse); err == nil || !strings.Contains(err.Error(), ConfigPath(dir)+": ") {
		t.Errorf("bad JSON: %v", err)
	}
	if err := os.WriteFile(ConfigPath(dir), []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadConfig("m", ConfigPath(dir), parse); err != nil || c["a"] != 1 {
		t.Errorf("ReadConfig: %v, %v", c, err)
	}
}

func TestUnexpectedMore(t *testing.T) {
	err := Unexpected("m", "p", []string{"a", "b", "c", "d", "e"}, func(n string) bool { return n == "b" }, "x")
	if err == nil || !strings.Contains(err.Error(), `"a", "c", "d" and 1 more`) {
		t.Errorf("%v", err)
	}
}

func TestUniform(t *testing.T) {
	a, b := make([]float32, 1000), make([]float32, 1000)
	Uniform(a, "t", 3, 1, 0.25)
	Uniform(b, "t", 3, 1, 0.25)
	for i := range a {
		if a[i] != b[i] || a[i] < 0.875 || a[i] >= 1.125 {
			t.Fatalf("value %d: %g (again %g), want one value in [0.875, 1.125)", i, a[i], b[i])
		}
	}
	Uniform(b, "u", 3, 1, 0.25)
	if a[0] == b[0] && a[1] == b[1] {
		t.Error("another name gives the same stream")
	}
}
