package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/npy"
)

func TestParseIDList(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ids.txt")
	if err := os.WriteFile(file, []byte("5\n\n 6 \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec string
		want []uint64
	}{{"3,17,42", []uint64{3, 17, 42}}, {" 1 , ,2 ", []uint64{1, 2}}, {"", nil}, {"@" + file, []uint64{5, 6}}, {file, []uint64{5, 6}}} {
		got, err := ParseIDList(tc.spec)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
	for _, bad := range []string{"3,x", "-1", "18446744073709551616", "@" + filepath.Join(dir, "none")} {
		if _, err := ParseIDList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ReadIDs(strings.NewReader("1\nx\n"), "ids"); err == nil || !strings.Contains(err.Error(), `ids: line 2: id "x"`) {
		t.Errorf("ReadIDs: %v", err)
	}
}

func TestBatchFiles(t *testing.T) {
	dir := t.TempDir()
	vecs := filepath.Join(dir, "v.fvecs")
	if err := npy.WriteFvecs(vecs, []float32{1, 0, 0, 1, 1, 1}, 3, 2); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, "m.jsonl")
	os.WriteFile(meta, []byte("{\"a\":1}\n\n{\"b\":2}\n"), 0o644)
	b, err := BatchFiles{Vectors: vecs, IDs: []string{"7,8", "9"}, Metadata: meta}.Read()
	if err != nil || b.Dim != 2 || fmt.Sprint(b.IDs) != "[7 8 9]" || len(b.Meta) != 3 || b.Meta[1] != nil {
		t.Fatalf("%+v, %v", b, err)
	}
	for _, tc := range []struct {
		f    BatchFiles
		want string
	}{
		{BatchFiles{Vectors: vecs, IDs: []string{"1,2,1"}}, "gives id 1 twice"},
		{BatchFiles{Vectors: vecs, IDs: []string{"1,2"}}, "give 2 ids but"},
		{BatchFiles{Vectors: vecs, Metadata: vecs}, "not a JSON object"},
	} {
		if _, err := tc.f.Read(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}

	// Build, Update and DeleteFrom under the directory's lock.
	ix := filepath.Join(dir, "ix")
	opts := DefaultOptions()
	opts.Kind = Flat
	x, res, err := Build(ix, opts, b, DirOptions{})
	if err != nil || res.Added != 3 || x.Dim() != 2 {
		t.Fatalf("Build: %+v, %v", res, err)
	}
	x.Close()
	if _, _, err := Build(ix, opts, b, DirOptions{}); !errors.Is(err, ErrIndexExists) {
		t.Errorf("Build again: %v, want ErrIndexExists", err)
	}
	two := Batch{Vectors: []float32{1, 2, 3, 4}, Dim: 2, IDs: []uint64{8, 20}}
	var ee *ExistsError
	if _, _, err := Update(ix, two, DirOptions{}); !errors.As(err, &ee) || ee.N != 1 || ee.IDs[0] != 8 || !errors.Is(err, ErrExists) {
		t.Errorf("Update: %v, want an *ExistsError for id 8", err)
	}
	if _, _, err := Update(ix, Batch{Vectors: []float32{1, 2, 3}, Dim: 3}, DirOptions{}); !errors.Is(err, ErrDim) {
		t.Errorf("Update 3-d: %v, want ErrDim", err)
	}
	x, res, err = Update(ix, two, DirOptions{Replace: true})
	if err != nil || res.Added != 1 || res.Replaced != 1 || x.Len() != 4 {
		t.Fatalf("Update --replace: %+v, %v", res, err)
	}
	x.Close()
	if x, err = DeleteFrom(ix, []uint64{7}, DirOptions{}); err != nil || x.Len() != 3 {
		t.Fatalf("DeleteFrom: %v", err)
	}
	x.Close()
}

// FuzzParseIDList: the id list parser returns ids or an error, never
// panics, and what it accepts from a comma list round-trips.
func FuzzParseIDList(f *testing.F) {
	for _, s := range []string{"3,17,42", " 1 , 2 ", "", ",", "x", "18446744073709551615", "18446744073709551616", "-1", "@", "1,,2", "@/nonexistent"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseIDList(s)
		if err != nil || strings.HasPrefix(strings.TrimSpace(s), "@") {
			return
		}
		if _, statErr := os.Stat(strings.TrimSpace(s)); statErr == nil {
			return // read as a file
		}
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = fmt.Sprint(id)
		}
		again, err := ParseIDList(strings.Join(parts, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ids) {
			t.Fatalf("%q -> %v; re-parsed %v, %v", s, ids, again, err)
		}
	})
}

// FuzzReadIDs: ids one per line never panic, and accepted ones round-trip.
func FuzzReadIDs(f *testing.F) {
	for _, s := range []string{"1\n2\n", "\n\n 3 \n", "x\n", "18446744073709551616", "1\r\n2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ReadIDs(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		for _, id := range ids {
			fmt.Fprintln(&buf, id)
		}
		again, err := ReadIDs(&buf, "again")
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ids) {
			t.Fatalf("%q -> %v; re-read %v, %v", s, ids, again, err)
		}
	})
}

// FuzzReadMetadata: metadata lines never panic; each accepted line is nil
// or a JSON object.
func FuzzReadMetadata(f *testing.F) {
	for _, s := range []string{"{\"a\":1}\n\n{}\n", "[1]\n", "{\n", " {\"text\":\"x\"} ", "null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		meta, err := ReadMetadata(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		for i, m := range meta {
			var obj map[string]any
			if m != nil && json.Unmarshal(m, &obj) != nil {
				t.Fatalf("line %d: %q is not a JSON object", i+1, m)
			}
		}
	})
}
