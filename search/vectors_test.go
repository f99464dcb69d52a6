package search

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/npy"
)

func TestQueryVectors(t *testing.T) {
	// Vectors (i, 1) with ids 10, 11, ...: the query (0, 1) finds them in
	// id order under L2.
	x := metaIndex(t, filterMetas, []uint64{10, 11, 12, 13, 14, 15})
	dir := t.TempDir()
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	x.Close()
	qpath := filepath.Join(t.TempDir(), "q.npy")
	if err := npy.WriteFloat32(qpath, []float32{0, 1, 5, 1}, 2, 2); err != nil {
		t.Fatal(err)
	}

	res, err := QueryVectors(dir, qpath, 2, index.SearchOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, dists := res.Columns()
	if want := [][]uint64{{10, 11}, {15, 14}}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if want := [][]float32{{0, 1}, {0, 1}}; !reflect.DeepEqual(dists, want) {
		t.Errorf("distances %v, want %v", dists, want)
	}
	if res.NoneAllowed || res.Seconds < 0 {
		t.Errorf("NoneAllowed %v, Seconds %v", res.NoneAllowed, res.Seconds)
	}

	// A filter and an allow list both hold.
	res, err = QueryVectors(dir, qpath, 3, index.SearchOptions{Allow: []uint64{10, 12, 13}}, []Condition{{Key: "lang", Value: "en"}})
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := res.Columns(); !reflect.DeepEqual(ids, [][]uint64{{10, 12}, {12, 10}}) {
		t.Errorf("filtered ids %v", ids)
	}

	// Nothing passes: every query is empty, and that is reported.
	res, err = QueryVectors(dir, qpath, 1, index.SearchOptions{}, []Condition{{Key: "lang", Value: "de"}})
	if err != nil || !res.NoneAllowed || len(res.Hits) != 2 {
		t.Errorf("no match: %+v, %v", res, err)
	}

	// Queries of another dimension.
	if err := npy.WriteFloat32(qpath, []float32{0, 1, 2}, 1, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := QueryVectors(dir, qpath, 1, index.SearchOptions{}, nil); !errors.Is(err, index.ErrDim) {
		t.Errorf("3-d queries: %v", err)
	}
	if _, err := QueryVectors(filepath.Join(dir, "missing"), qpath, 1, index.SearchOptions{}, nil); err == nil {
		t.Error("missing index: no error")
	}
}
