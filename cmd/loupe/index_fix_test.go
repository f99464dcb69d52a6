package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/index"
)

func stModel(t *testing.T) string {
	t.Helper()
	m, err := filepath.Abs(filepath.Join("..", "..", "embed", "testdata", "st"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeFile(t *testing.T, path, s string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestIndexAddInputNeverOverwrites: documents without an "id" get new ids
// after the largest one; an existing id is an error unless --replace.
func TestIndexAddInputNeverOverwrites(t *testing.T) {
	model := stModel(t)
	dir := t.TempDir()
	docs := writeFile(t, filepath.Join(dir, "docs.jsonl"), `{"id": "a", "text": "the cat sat"}
{"id": "b", "text": "dogs bark"}
{"id": "c", "text": "birds fly"}
`)
	ix := filepath.Join(dir, "ix")
	if _, err := runIndex("index", "build", "--input", docs, "--model", model, "--kind", "flat", "--out", ix); err != nil {
		t.Fatal(err)
	}
	one := writeFile(t, filepath.Join(dir, "one.jsonl"), `{"text":"brand new doc"}`+"\n")
	out, err := runIndex("index", "add", "--index", ix, "--input", one)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "added 1 document, index now holds 4") {
		t.Fatalf("add output %q", out)
	}
	// Plain text lines too.
	txt := writeFile(t, filepath.Join(dir, "more.txt"), "fish swim\nbees buzz\n")
	if out, err = runIndex("index", "add", "--index", ix, "--input", txt); err != nil || !strings.Contains(out, "added 2 documents, index now holds 6") {
		t.Fatalf("add text lines: %q, %v", out, err)
	}
	x, err := index.Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{0: "the cat sat", 1: "dogs bark", 2: "birds fly", 3: "brand new doc", 4: "fish swim", 5: "bees buzz"}
	for id, text := range want {
		if got := x.Text(id); got != text {
			t.Errorf("id %d: text %q, want %q", id, got, text)
		}
	}
	if m, _ := x.Metadata(1); !strings.Contains(string(m), `"id":"b"`) {
		t.Errorf("id 1 metadata %s lost its document id", m)
	}
	x.Close()

	// A string id already stored: error naming it, then --replace.
	again := writeFile(t, filepath.Join(dir, "again.jsonl"), `{"id": "b", "text": "dogs bark loudly"}`+"\n")
	if _, err := runIndex("index", "add", "--index", ix, "--input", again); err == nil ||
		!strings.Contains(err.Error(), `ids already in the index: "b" (document 1)`) || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("existing string id: err = %v", err)
	}
	if out, err := runIndex("index", "add", "--index", ix, "--input", again, "--replace"); err != nil ||
		!strings.Contains(out, "added 0 documents and replaced 1, index now holds 6") {
		t.Fatalf("--replace: %q, %v", out, err)
	}
	x, _ = index.Open(ix)
	if x.Text(1) != "dogs bark loudly" || x.Len() != 6 {
		t.Fatalf("after --replace: id 1 %q, len %d", x.Text(1), x.Len())
	}
	x.Close()

	// Integer ids: an existing one is refused; a new one is kept and later
	// documents without ids go after it.
	ints := writeFile(t, filepath.Join(dir, "ints.jsonl"), `{"id": 2, "text": "x"}`+"\n")
	if _, err := runIndex("index", "add", "--index", ix, "--input", ints); err == nil || !strings.Contains(err.Error(), "2 (document 1)") {
		t.Fatalf("existing int id: err = %v", err)
	}
	mixed := writeFile(t, filepath.Join(dir, "mixed.jsonl"), `{"text": "no id"}
{"id": 40, "text": "forty"}
`)
	if _, err := runIndex("index", "add", "--index", ix, "--input", mixed); err != nil {
		t.Fatal(err)
	}
	x, _ = index.Open(ix)
	if x.Text(40) != "forty" || x.Text(41) != "no id" || x.Text(2) != "birds fly" {
		t.Fatalf("mixed add: 40 %q, 41 %q, 2 %q", x.Text(40), x.Text(41), x.Text(2))
	}
	x.Close()
}

func TestIndexBuildRejectsDuplicateIDs(t *testing.T) {
	model := stModel(t)
	dir := t.TempDir()
	for _, tc := range []struct{ docs, want string }{
		{`{"id": 7, "text": "a"}` + "\n" + `{"id": 7, "text": "b"}`, "id 7 is given to documents 1 and 2"},
		{`{"id": "x", "text": "a"}` + "\n" + `{"text": "c"}` + "\n" + `{"id": "x", "text": "b"}`, `id "x" is given to documents 1 and 3`},
	} {
		docs := writeFile(t, filepath.Join(dir, "d.jsonl"), tc.docs+"\n")
		_, err := runIndex("index", "build", "--input", docs, "--model", model, "--out", filepath.Join(dir, "ix"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.docs, err, tc.want)
		}
	}
	base := filepath.Join(dir, "b.npy")
	writeVectors(t, base, 3, 4, 1)
	_, err := runIndex("index", "build", "--vectors", base, "--ids", "1,2,1", "--out", filepath.Join(dir, "ix"))
	if err == nil || !strings.Contains(err.Error(), "gives id 1 twice") {
		t.Errorf("duplicate --ids: err = %v", err)
	}
}

// TestIndexAddVectorIDs: --ids of ids already in the index need --replace,
// the message counts added and replaced vectors, deleted ids may return.
func TestIndexAddVectorIDs(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.npy")
	writeVectors(t, base, 5, 4, 1)
	two := filepath.Join(dir, "two.npy")
	writeVectors(t, two, 2, 4, 2)
	ix := filepath.Join(dir, "ix")
	if _, err := runIndex("index", "build", "--vectors", base, "--kind", "flat", "--out", ix); err != nil {
		t.Fatal(err)
	}
	if _, err := runIndex("index", "add", "--index", ix, "--vectors", two, "--ids", "3,17"); err == nil ||
		!strings.Contains(err.Error(), "ids already in the index: 3;") {
		t.Fatalf("existing id: err = %v", err)
	}
	out, err := runIndex("index", "add", "--index", ix, "--vectors", two, "--ids", "3,17", "--replace")
	if err != nil || !strings.Contains(out, "added 1 vector and replaced 1, index now holds 6") {
		t.Fatalf("--replace: %q, %v", out, err)
	}
	if _, err := runIndex("index", "delete", "--index", ix, "4"); err != nil {
		t.Fatal(err)
	}
	s, err := runIndex("index", "add", "--index", ix, "--vectors", two, "--ids", "4,30", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Added, Replaced, Searchable int }
	if err := json.Unmarshal([]byte(s), &r); err != nil || r.Added != 2 || r.Replaced != 0 || r.Searchable != 7 {
		t.Fatalf("re-adding a deleted id: %s (%v)", s, err)
	}
	out, err = runIndex("index", "add", "--index", ix, "--vectors", two)
	if err != nil || !strings.Contains(out, "added 2 vectors, index now holds 9") {
		t.Fatalf("append: %q, %v", out, err)
	}
	x, _ := index.Open(ix)
	defer x.Close()
	if !x.Has(31) || !x.Has(32) || !x.Has(0) {
		t.Fatalf("appended ids: Has(31) %v Has(32) %v", x.Has(31), x.Has(32))
	}
}

// TestIndexBuildOverwrite: build --out onto an index needs --overwrite.
func TestIndexBuildOverwrite(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.npy")
	writeVectors(t, base, 5, 4, 1)
	ix := filepath.Join(dir, "ix")
	if _, err := runIndex("index", "build", "--vectors", base, "--out", ix); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "s.npy")
	writeVectors(t, small, 2, 4, 2)
	if _, err := runIndex("index", "build", "--vectors", small, "--kind", "flat", "--out", ix); err == nil ||
		!strings.Contains(err.Error(), "already holds an index; pass --overwrite") {
		t.Fatalf("build onto an index: err = %v", err)
	}
	x, _ := index.Open(ix)
	if x.Len() != 5 || x.Kind() != index.HNSW {
		t.Fatalf("refused build changed the index: %d %s", x.Len(), x.Kind())
	}
	x.Close()
	if _, err := runIndex("index", "build", "--vectors", small, "--kind", "flat", "--out", ix, "--overwrite"); err != nil {
		t.Fatal(err)
	}
	x, _ = index.Open(ix)
	defer x.Close()
	if x.Len() != 2 || x.Kind() != index.Flat {
		t.Fatalf("--overwrite: %d %s", x.Len(), x.Kind())
	}
}

// TestIndexFlagValues: zero or negative values are errors naming the flag.
func TestIndexFlagValues(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.npy")
	writeVectors(t, base, 5, 4, 1)
	ix := filepath.Join(dir, "ix")
	if _, err := runIndex("index", "build", "--vectors", base, "--out", ix); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "new")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"index", "build", "--vectors", base, "--out", out, "--m", "0"}, "--m 0: want a positive number"},
		{[]string{"index", "build", "--vectors", base, "--out", out, "--ef-construction", "0"}, "--ef-construction 0: want a positive number"},
		{[]string{"index", "build", "--vectors", base, "--out", out, "--ef", "-1"}, "--ef -1: want a positive number"},
		{[]string{"index", "build", "--vectors", base, "--out", out, "--kind", "forest", "--n-trees", "0"}, "--n-trees 0: want a positive number"},
		{[]string{"index", "build", "--vectors", base, "--out", out, "--leaf-size", "-2"}, "--leaf-size -2: want a positive number"},
		{[]string{"index", "build", "--vectors", base, "--out", out, "--threads", "-1"}, "--threads -1: want 0 or more"},
		{[]string{"index", "add", "--index", ix, "--vectors", base, "--threads", "-1"}, "--threads -1: want 0 or more"},
		{[]string{"index", "query", "--index", ix, "--queries", base, "--k", "0"}, "--k 0: want a positive number"},
		{[]string{"index", "query", "--index", ix, "--queries", base, "--ef", "-1"}, "--ef -1: want 0 or more"},
		{[]string{"index", "query", "--index", ix, "--queries", base, "--search-k", "-1"}, "--search-k -1: want 0 or more"},
		{[]string{"index", "query", "--index", ix, "--queries", base, "--threads", "-1"}, "--threads -1: want 0 or more"},
		{[]string{"index", "query", "--index", ix, "--queries", base, "--filter", "lang"}, `index query: --filter "lang": want key=value`},
		{[]string{"index", "delete", "--index", ix, "--ids", "3,x"}, `id "x" is not an unsigned integer`},
		{[]string{"index", "delete", "--index", ix}, "give the ids to delete"},
	} {
		if _, err := runIndex(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args[1:], err, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused build created %s", out)
	}
}

// TestIndexIDForms: build, add, delete and query --allow take 3,17, @FILE
// and a bare FILE; delete also takes ids as arguments.
func TestIndexIDForms(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.npy")
	writeVectors(t, base, 4, 4, 1)
	ids := writeFile(t, filepath.Join(dir, "ids.txt"), "10\n11\n\n12\n13\n")
	for i, form := range [][]string{{"--ids", "10,11,12,13"}, {"--ids", "@" + ids}, {"--ids", ids}, {"--ids", "10,11", "--ids", "12,13"}} {
		ix := filepath.Join(dir, fmt.Sprint("ix", i))
		args := append([]string{"index", "build", "--vectors", base, "--kind", "flat", "--out", ix}, form...)
		if _, err := runIndex(args...); err != nil {
			t.Fatalf("%v: %v", form, err)
		}
		x, _ := index.Open(ix)
		if !x.Has(10) || !x.Has(13) || x.Has(0) {
			t.Fatalf("%v: ids not taken", form)
		}
		x.Close()
	}
	ix := filepath.Join(dir, "ix0")
	del := writeFile(t, filepath.Join(dir, "del.txt"), "10\n")
	for _, form := range [][]string{{"--ids", del}, {"--ids", "@" + del}, {"11"}, {"--ids", "12", "13"}} {
		if _, err := runIndex(append([]string{"index", "delete", "--index", ix}, form...)...); err != nil {
			t.Fatalf("delete %v: %v", form, err)
		}
	}
	x, _ := index.Open(ix)
	if x.Len() != 0 {
		t.Fatalf("after deletes %d remain", x.Len())
	}
	x.Close()
	q := filepath.Join(dir, "q.npy")
	writeVectors(t, q, 1, 4, 3)
	s, err := runIndex("index", "query", "--index", filepath.Join(dir, "ix1"), "--queries", q, "--k", "2", "--allow", "11,13", "--format", "json")
	if err != nil || !strings.Contains(s, `"ids":[[1`) {
		t.Fatalf("--allow 11,13: %s %v", s, err)
	}
	var r struct{ IDs [][]uint64 }
	json.Unmarshal([]byte(s), &r)
	var errOut bytes.Buffer
	rootCmd.SetErr(&errOut)
	defer rootCmd.SetErr(nil)
	if s, err := runIndex("index", "query", "--index", filepath.Join(dir, "ix1"), "--queries", q, "--k", "2", "--filter", "lang=en"); err != nil ||
		!strings.Contains(errOut.String(), "no vector in") || !strings.Contains(s, "query 0:\n") {
		t.Fatalf("filter matching nothing: out %q, stderr %q, %v", s, errOut.String(), err)
	}
	for _, id := range r.IDs[0] {
		if id != 11 && id != 13 {
			t.Fatalf("--allow 11,13 returned %d", id)
		}
	}
}

// TestIndexHelperProcess runs one loupe command line when started by
// TestIndexConcurrentAdds; otherwise it does nothing.
func TestIndexHelperProcess(t *testing.T) {
	if os.Getenv("LOUPE_INDEX_HELPER") != "1" {
		return
	}
	var args []string
	json.Unmarshal([]byte(os.Getenv("LOUPE_INDEX_ARGS")), &args)
	if _, err := runIndex(args...); err != nil {
		fmt.Fprintln(os.Stderr, "loupe:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestIndexConcurrentAdds starts several processes adding to one index at
// once: under the directory lock none of their vectors is lost.
func TestIndexConcurrentAdds(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.npy")
	writeVectors(t, base, 20, 16, 1)
	more := filepath.Join(dir, "more.npy")
	writeVectors(t, more, 600, 16, 2)
	ix := filepath.Join(dir, "ix")
	if _, err := runIndex("index", "build", "--vectors", base, "--out", ix, "--ef-construction", "100"); err != nil {
		t.Fatal(err)
	}
	const procs = 4
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*bytes.Buffer, procs)
	for i := range cmds {
		args, _ := json.Marshal([]string{"index", "add", "--index", ix, "--vectors", more})
		c := exec.Command(os.Args[0], "-test.run=^TestIndexHelperProcess$")
		c.Env = append(os.Environ(), "LOUPE_INDEX_HELPER=1", "LOUPE_INDEX_ARGS="+string(args))
		outs[i] = new(bytes.Buffer)
		c.Stdout, c.Stderr = outs[i], outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	x, err := index.Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if want := 20 + procs*600; x.Len() != want {
		t.Fatalf("%d concurrent adds of 600 to 20 vectors left %d, want %d", procs, x.Len(), want)
	}
	if err := x.CheckIntegrity(); err != nil {
		t.Fatal(err)
	}
}
