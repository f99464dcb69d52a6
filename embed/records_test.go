package embed

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Moved from cmd/loupe (readTexts): records keep no id unless the JSON
// line has one; Line is the source line.
func TestReadRecords(t *testing.T) {
	recs, err := ReadRecords(strings.NewReader("first line\n\n  second line  \r\n"), "x", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Text != "first line" || recs[1].Text != "  second line  " || recs[1].ID != nil || recs[1].Line != 3 {
		t.Errorf("text lines: %+v", recs)
	}
	recs, err = ReadRecords(strings.NewReader("\n{\"text\": \"a\", \"id\": \"doc-7\", \"lang\": \"en\"}\n{\"text\": \"b\", \"n\": 3}\n"), "x", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != "doc-7" || recs[0].Meta["lang"] != "en" || recs[1].ID != nil || recs[1].Meta["n"] != json.Number("3") || recs[1].Line != 3 {
		t.Errorf("JSON lines: %+v", recs)
	}
	for _, bad := range []struct{ in, want string }{
		{"", "no texts"},
		{"{\"text\": \"a\"}\n{\"txt\": \"b\"}\n", "line 2: no string \"text\""},
		{"{\"text\": \"a\"}\n{oops\n", "line 2"},
	} {
		if _, err := ReadRecords(strings.NewReader(bad.in), "f.jsonl", ReadOptions{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestReadRecordsKeepBlank(t *testing.T) {
	recs, err := ReadRecords(strings.NewReader("\nfirst\n\n  \nlast\n"), "x", ReadOptions{KeepBlank: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "first", "", "  ", "last"}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want one per line (%d): %+v", len(recs), len(want), recs)
	}
	for i, r := range recs {
		if r.Text != want[i] || r.Line != i+1 {
			t.Errorf("record %d = %+v, want text %q line %d", i, r, want[i], i+1)
		}
	}
	// JSON lines: blank lines are not records.
	recs, err = ReadRecords(strings.NewReader("{\"text\":\"a\"}\n\n{\"text\":\"\"}\n"), "x", ReadOptions{KeepBlank: true})
	if err != nil || len(recs) != 2 || recs[1].Text != "" {
		t.Errorf("JSON lines: %+v %v", recs, err)
	}
	for _, keep := range []bool{false, true} {
		_, err := ReadRecords(strings.NewReader("ok\ncaf\xe9\n"), "in.txt", ReadOptions{KeepBlank: keep})
		if err == nil || !strings.Contains(err.Error(), "in.txt: line 2 is not valid UTF-8") {
			t.Errorf("non-UTF-8 line (keep blank %v): %v", keep, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o     Options
		field string
	}{
		{Options{Quantize: "int4"}, "Quantize"},
		{Options{BatchSize: -1}, "BatchSize"},
		{Options{MaxSeqLength: -3}, "MaxSeqLength"},
	} {
		err := tc.o.Validate()
		oe, ok := err.(*OptionError)
		if !ok || oe.Field != tc.field {
			t.Errorf("%+v: %v, want an OptionError for %s", tc.o, err, tc.field)
		}
	}
	if err := (Options{Quantize: "int8", BatchSize: 4}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestSimilarity(t *testing.T) {
	s := Similarity([][]float32{{1, 0}, {1, 1}, {0, 0}})
	if d := s[0][1] - 0.70710678; d > 1e-6 || d < -1e-6 || s[0][0] != 1 || s[2][2] != 0 {
		t.Errorf("similarity %v", s)
	}
}

func FuzzReadRecords(f *testing.F) {
	f.Add([]byte("first line\nsecond line\n"), false)
	f.Add([]byte("{\"text\": \"a\", \"id\": 7, \"lang\": \"en\"}\n{\"text\": \"b\"}\n"), false)
	f.Add([]byte("\n\n{\"text\": 3}\n"), true)
	f.Add([]byte("\n\na\n\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, keep bool) {
		recs, err := ReadRecords(bytes.NewReader(b), "fuzz", ReadOptions{KeepBlank: keep})
		if err == nil && len(recs) == 0 {
			t.Fatal("no error and no texts")
		}
	})
}

func TestReadRecordsFileGzip(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	z.Write([]byte("{\"text\": \"a\", \"ref\": \"x\"}\n{\"text\": \"plain line\"}\n"))
	z.Close()
	p := filepath.Join(dir, "docs.jsonl.gz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecordsFile(p, ReadOptions{})
	if err != nil || len(recs) != 2 || recs[0].Text != "a" || recs[1].Text != "plain line" {
		t.Fatalf("records %+v, %v", recs, err)
	}
	bad := filepath.Join(dir, "bad.jsonl.gz")
	os.WriteFile(bad, []byte("not gzip"), 0o644)
	if _, err := ReadRecordsFile(bad, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "bad.jsonl.gz") {
		t.Errorf("not gzip: %v", err)
	}
}
