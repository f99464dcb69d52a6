package search

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

func stModel(t *testing.T) string {
	t.Helper()
	m, err := filepath.Abs(filepath.Join("..", "embed", "testdata", "st"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(context.Background(), Options{Model: stModel(t), Index: testIndexOptions(index.Options{Kind: index.Flat})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAddIDsAndReplace(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	res, err := s.Add(ctx, []Document{{Text: "the cat sat", ID: "a"}, {Text: "dogs bark", ID: json.Number("7")}, {Text: "birds fly"}}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Documents without an integer id go after the largest integer id.
	if want := []uint64{8, 7, 9}; res.Added != 3 || res.IDs[0] != want[0] || res.IDs[1] != want[1] || res.IDs[2] != want[2] {
		t.Fatalf("ids %v added %d", res.IDs, res.Added)
	}
	if m, _ := s.Index().Metadata(8); !strings.Contains(string(m), `"id":"a"`) || !strings.Contains(string(m), `"text":"the cat sat"`) {
		t.Errorf("metadata of an external id: %s", m)
	}
	// Existing ids are refused, then replaced with Replace.
	again := []Document{{Text: "the cat sat down", ID: "a"}, {Text: "dogs bark loudly", ID: 7}}
	if _, err := s.Add(ctx, again, AddOptions{}); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"a" (document 1)`) || !strings.Contains(err.Error(), "7 (document 2)") {
		t.Fatalf("existing ids: %v", err)
	}
	if res, err = s.Add(ctx, again, AddOptions{Replace: true}); err != nil || res.Replaced != 2 || res.Added != 0 || s.Len() != 3 {
		t.Fatalf("replace: %+v, %v, len %d", res, err, s.Len())
	}
	if got := s.Index().Text(8); got != "the cat sat down" {
		t.Errorf("replaced text %q", got)
	}
	for _, dup := range [][]Document{
		{{Text: "x", ID: 3}, {Text: "y", ID: uint64(3)}},
		{{Text: "x", ID: "k"}, {Text: "y", ID: "k"}},
	} {
		if _, err := s.Add(ctx, dup, AddOptions{}); err == nil || !strings.Contains(err.Error(), "is given to documents 1 and 2") {
			t.Errorf("duplicate ids: %v", err)
		}
	}
	if _, err := s.Add(ctx, nil, AddOptions{}); !errors.Is(err, ErrNoDocuments) {
		t.Errorf("no documents: %v", err)
	}
	// A filter sees documents added after an earlier filtered search, and
	// not deleted ones.
	lang := []Condition{{"lang", "fr"}}
	if hits, err := s.Search(ctx, "chat", SearchOptions{K: DefaultK, Filter: lang}); err != nil || len(hits) != 0 {
		t.Fatalf("no French document yet: %v, %v", hits, err)
	}
	if _, err := s.Add(ctx, []Document{{Text: "le chat", Meta: map[string]any{"lang": "fr"}}}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Search(ctx, "chat", SearchOptions{K: DefaultK, Filter: lang})
	if err != nil || len(hits) != 1 || hits[0].ID != 10 || hits[0].Text != "le chat" {
		t.Fatalf("French document after adding it: %+v, %v", hits, err)
	}
	if err := s.Delete(10); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.Search(ctx, "chat", SearchOptions{K: DefaultK, Filter: lang}); err != nil || len(hits) != 0 {
		t.Fatalf("deleted document found: %v, %v", hits, err)
	}
}

func TestSaveOpenSearch(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "idx")
	docs := []Document{{Text: "the cat sat on the mat"}, {Text: "run a bert model fast on a cpu"}, {Text: "hello world"}}
	s, res, err := Build(ctx, dir, docs, Options{Model: stModel(t)}, AddOptions{}, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if res.Added != 3 {
		t.Fatalf("%+v", res)
	}
	if _, _, err := Build(ctx, dir, docs, Options{Model: stModel(t)}, AddOptions{}, DirOptions{}); !errors.Is(err, ErrIndexExists) {
		t.Fatalf("build over an index: %v", err)
	}
	s, err = Open(dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Model() != stModel(t) {
		t.Errorf("recorded model %q", s.Model())
	}
	hits, err := s.Search(ctx, "run a bert model fast on a cpu", SearchOptions{K: 50})
	if err != nil || len(hits) != 3 || hits[0].ID != 1 || hits[0].Score < 0.999 || hits[0].Rank != 1 {
		t.Fatalf("%+v, %v", hits, err)
	}
	for _, bad := range []SearchOptions{{K: 0}, {K: -1}, {K: 1, Ef: -2}, {K: 1, Threads: -1}, {K: 1, Filter: []Condition{{Key: "", Value: "x"}}}} {
		var oe *OptionError
		if _, err := s.Search(ctx, "x", bad); !errors.As(err, &oe) {
			t.Errorf("%+v: %v, want an OptionError", bad, err)
		}
	}
	if _, err := s.Search(ctx, "caf\xe9", DefaultSearchOptions()); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 question: %v", err)
	}
	// Update adds under the lock and saves.
	u, res, err := Update(ctx, dir, []Document{{Text: "new"}}, OpenOptions{}, AddOptions{}, DirOptions{})
	if err != nil || res.IDs[0] != 3 {
		t.Fatalf("update: %+v, %v", res, err)
	}
	u.Close()
}

// An index built from vectors records no model; a moved model is named.
func TestModelErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		model string
		want  error
	}{{"", ErrNoModel}, {filepath.Join(dir, "moved"), nil}} {
		x, err := index.New(testIndexOptions(index.Options{Kind: index.Flat, Dim: 32, Model: tc.model}))
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, 32)
		v[0] = 1
		if err := x.Add(index.Batch{Vectors: v}); err != nil {
			t.Fatal(err)
		}
		idx := filepath.Join(dir, "idx"+filepath.Base(tc.model))
		if err := x.Save(idx); err != nil {
			t.Fatal(err)
		}
		s, err := Open(idx, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Search(ctx, "x", DefaultSearchOptions())
		var me *ModelError
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%q: %v", tc.model, err)
		case tc.want == nil && (!errors.As(err, &me) || !strings.Contains(err.Error(), "moved or deleted")):
			t.Errorf("%q: %v", tc.model, err)
		}
		// OpenOptions.Model replaces the recorded one.
		s2, _ := Open(idx, OpenOptions{Model: stModel(t)})
		if hits, err := s2.Search(ctx, "x", DefaultSearchOptions()); err != nil || len(hits) != 1 {
			t.Errorf("%q with OpenOptions.Model: %v, %v", tc.model, hits, err)
		}
		s.Close()
		s2.Close()
	}
}

func TestResolveModel(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "models", "st"), 0o755)
	if got := ResolveModel(dir, filepath.Join("models", "st")); got != filepath.Join(dir, "models", "st") {
		t.Errorf("model beside the index: %q", got)
	}
	for _, ref := range []string{"sentence-transformers/all-MiniLM-L6-v2", "/abs/path", ""} {
		if got := ResolveModel(dir, ref); got != ref {
			t.Errorf("%q resolved to %q", ref, got)
		}
	}
}

func TestNewValidates(t *testing.T) {
	var oe *OptionError
	if _, err := New(context.Background(), Options{}); !errors.As(err, &oe) || oe.Field != "Model" {
		t.Errorf("no model: %v", err)
	}
	if _, err := New(context.Background(), Options{Model: stModel(t), Embed: embed.Options{BatchSize: -1}}); !errors.As(err, &oe) || oe.Field != "BatchSize" {
		t.Errorf("batch size -1: %v", err)
	}
}
