package shard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/search"
)

func TestShardOf(t *testing.T) {
	// Fixed values: the assignment must never change between versions or
	// machines (shard directories on disk depend on it).
	// splitmix64(0) = 0xe220a8397b1dcdaf, whose residue mod 4 is 3.
	if got := ShardOf(0, 4); got != int(uint64(0xe220a8397b1dcdaf)%4) {
		t.Errorf("ShardOf(0, 4) = %d, want %d", got, uint64(0xe220a8397b1dcdaf)%4)
	}
	// splitmix64(1) = 0x910a2dec89025cc1.
	if got := ShardOf(1, 7); got != int(uint64(0x910a2dec89025cc1)%7) {
		t.Errorf("ShardOf(1, 7) = %d, want %d", got, uint64(0x910a2dec89025cc1)%7)
	}
	// Every id goes to one shard in range; the split is roughly even.
	counts := make([]int, 4)
	for id := uint64(0); id < 40000; id++ {
		s := ShardOf(id, 4)
		if s < 0 || s >= 4 {
			t.Fatalf("ShardOf(%d, 4) = %d", id, s)
		}
		counts[s]++
	}
	for i, c := range counts {
		if c < 9500 || c > 10500 {
			t.Errorf("shard %d got %d of 40000 ids", i, c)
		}
	}
	if ShardOf(12345, 1) != 0 {
		t.Error("one shard holds everything")
	}
}

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
		err  bool
	}{
		{"0/4", Spec{0, 4}, false},
		{"3/4", Spec{3, 4}, false},
		{"0/1", Spec{0, 1}, false},
		{"4/4", Spec{}, true},
		{"-1/4", Spec{}, true},
		{"1/0", Spec{}, true},
		{"1", Spec{}, true},
		{"a/b", Spec{}, true},
		{"", Spec{}, true},
	} {
		got, err := ParseSpec(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseSpec(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
		if err == nil && got.String() != c.in {
			t.Errorf("Spec %v prints as %q", got, got.String())
		}
	}
}

func TestMerge(t *testing.T) {
	h := func(id uint64, d, s float32) search.Hit { return search.Hit{ID: id, Distance: d, Score: s} }
	for _, c := range []struct {
		name  string
		mode  search.Mode
		lists [][]search.Hit
		k     int
		want  []uint64
	}{
		{"dense", search.ModeDense, [][]search.Hit{{h(5, 0.1, 0.9), h(2, 0.3, 0.7)}, {h(9, 0.2, 0.8)}}, 3, []uint64{5, 9, 2}},
		{"dense ties by id", search.ModeDense, [][]search.Hit{{h(7, 0.1, 0.9)}, {h(3, 0.1, 0.9), h(8, 0.1, 0.9)}}, 2, []uint64{3, 7}},
		{"dense k cuts", search.ModeDense, [][]search.Hit{{h(1, 0.5, 0.5)}, {h(2, 0.4, 0.6)}}, 1, []uint64{2}},
		{"empty shard", search.ModeDense, [][]search.Hit{{}, {h(4, 0.4, 0.6)}}, 5, []uint64{4}},
		{"bm25 higher first", search.ModeBM25, [][]search.Hit{{h(1, 0, 2)}, {h(2, 0, 3), h(3, 0, 1)}}, 3, []uint64{2, 1, 3}},
		{"bm25 ties by id", search.ModeBM25, [][]search.Hit{{h(6, 0, 2)}, {h(4, 0, 2)}}, 2, []uint64{4, 6}},
		{"l2 distances", search.ModeDense, [][]search.Hit{{h(1, 4, 4)}, {h(2, 1, 1)}}, 2, []uint64{2, 1}},
	} {
		got := Merge(c.mode, c.lists, c.k)
		var ids []uint64
		for i, g := range got {
			ids = append(ids, g.ID)
			if g.Rank != i+1 {
				t.Errorf("%s: hit %d has rank %d", c.name, i, g.Rank)
			}
		}
		if len(ids) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, ids, c.want)
			continue
		}
		for i := range ids {
			if ids[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, ids, c.want)
				break
			}
		}
	}
}

func TestState(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadState(dir); ok || err != nil {
		t.Fatalf("no state file: ok %v, %v", ok, err)
	}
	want := State{Shard: 2, Shards: 4, Collection: "docs", Applied: 17}
	if err := WriteState(dir, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadState(dir)
	if !ok || err != nil || got != want {
		t.Fatalf("read %+v, %v, %v; want %+v", got, ok, err, want)
	}
	for _, bad := range []string{`{"shard": 4, "shards": 4}`, `{"shard": 0, "shards": 0}`, `not json`} {
		os.WriteFile(filepath.Join(dir, StateFile), []byte(bad), 0o644)
		if _, _, err := ReadState(dir); err == nil || !strings.Contains(err.Error(), StateFile) {
			t.Errorf("%s: error %v, want one naming %s", bad, err, StateFile)
		}
	}
}

func TestWire(t *testing.T) {
	v := [][]float32{{1, -2.5, 3e-30}, {0, 1, 2}}
	u := update{Op: opAdd, IDs: []uint64{4, 9}, Dim: 3, Vectors: putFloats(v...), Meta: []json.RawMessage{json.RawMessage(`{"text":"a"}`), json.RawMessage(`{}`)}}
	b, _ := json.Marshal(u)
	got, err := decodeUpdate(b)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := floats(got.Vectors, 2, 3)
	if err != nil || fs[2] != 3e-30 || fs[3] != 0 || fs[1] != -2.5 {
		t.Fatalf("vectors %v, %v", fs, err)
	}
	for _, bad := range []string{
		`{"op":"add","ids":[1],"dim":3,"vectors":"AAAA","meta":[{}]}`, // 1 float for 3
		`{"op":"add","ids":[1],"dim":0,"vectors":"","meta":[{}]}`,
		`{"op":"add","ids":[1,2],"dim":1,"vectors":"AAAAAAAAAAA=","meta":[{}]}`, // 1 meta for 2 ids
		`{"op":"drop","ids":[1]}`,
		`{"op":`,
	} {
		if _, err := decodeUpdate([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	for _, bad := range []string{
		`{"questions":["a"],"k":0}`,
		`{"questions":["a"],"k":3,"mode":"dense","dim":2,"vectors":"AAAA"}`,
		`{"questions":["a"],"k":3,"mode":"weird"}`,
		`{"questions":["a"],"k":3,"mode":"bm25","filter":["nokey"]}`,
	} {
		if _, _, _, err := decodeRequest([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if _, vs, _, err := decodeRequest([]byte(`{"questions":["a"],"k":3,"mode":"bm25"}`)); err != nil || vs != nil {
		t.Errorf("bm25 request: %v, %v", vs, err)
	}
}

// FuzzDecode feeds the decoders of stream messages and queries arbitrary
// bytes: an error or a value, never a panic, and a decoded add's vectors
// always match its ids.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"op":"add","ids":[1],"dim":1,"vectors":"AACAPw==","meta":[{"text":"x"}]}`))
	f.Add([]byte(`{"op":"delete","ids":[1,2,3]}`))
	f.Add([]byte(`{"questions":["a"],"k":3,"mode":"dense","dim":1,"vectors":"AACAPw=="}`))
	f.Add([]byte(`{"questions":["a","b"],"k":3,"mode":"hybrid","dim":1,"vectors":"AACAPwAAgD8=","filter":["ref=Genesis 1:1"]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if u, err := decodeUpdate(data); err == nil && u.Op == opAdd {
			if _, err := floats(u.Vectors, len(u.IDs), u.Dim); err != nil {
				t.Fatalf("decoded add with bad vectors: %v", err)
			}
		}
		if r, vs, opts, err := decodeRequest(data); err == nil {
			if opts.Mode != search.ModeBM25 && len(vs) != len(r.Questions) {
				t.Fatalf("%d vectors for %d questions", len(vs), len(r.Questions))
			}
		}
	})
}

// TestOpenReplicaChecks: a directory without shard.json must say which
// shard it is and hold only that shard's ids; one with shard.json must
// agree with what it is asked to be.
func TestOpenReplicaChecks(t *testing.T) {
	tmp := t.TempDir()
	recs := testRecords(t, 20)
	buildSingle(t, filepath.Join(tmp, "all"), recs)
	if _, err := OpenReplica(filepath.Join(tmp, "all"), ReplicaOptions{}); err == nil || !strings.Contains(err.Error(), StateFile) {
		t.Errorf("no shard.json and no --shard: %v", err)
	}
	if _, err := OpenReplica(filepath.Join(tmp, "all"), ReplicaOptions{Shard: Spec{1, 4}}); err == nil || !strings.Contains(err.Error(), "loupe shard split") {
		t.Errorf("an unsplit index as shard 1/4: %v", err)
	}
	r, err := OpenReplica(filepath.Join(tmp, "all"), ReplicaOptions{Shard: Spec{0, 1}})
	if err != nil {
		t.Fatalf("an index as the only shard: %v", err)
	}
	r.Close()
	split, err := Split(filepath.Join(tmp, "all"), 2, filepath.Join(tmp, "s"), SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReplica(split.Dirs[1], ReplicaOptions{Shard: Spec{0, 2}}); err == nil || !strings.Contains(err.Error(), "is shard 1/2") {
		t.Errorf("shard 1 opened as 0/2: %v", err)
	}
	if _, err := OpenReplica(split.Dirs[1], ReplicaOptions{Collection: "bad name"}); err == nil {
		t.Error("a collection name with a space: no error")
	}
	r, err = OpenReplica(split.Dirs[1], ReplicaOptions{})
	if err != nil || r.Shard() != (Spec{1, 2}) || r.Len() != split.Counts[1] {
		t.Fatalf("shard 1: %v, %v", r, err)
	}
	for _, id := range r.IDs() {
		if ShardOf(id, 2) != 1 {
			t.Errorf("id %d in shard 1", id)
		}
	}
	r.Close()
}

// FuzzState reads arbitrary bytes as a StateFile: an error or a state
// naming a real shard, never a panic; a state read back after WriteState
// is the same.
func FuzzState(f *testing.F) {
	f.Add([]byte(`{"shard": 1, "shards": 4, "collection": "docs", "applied": 17}`))
	f.Add([]byte(`{"shard": 0, "shards": 1}`))
	f.Add([]byte(`{"shard": 5, "shards": 4}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, StateFile), data, 0o644)
		st, ok, err := ReadState(dir)
		if err != nil || !ok {
			return
		}
		if st.Shard < 0 || st.Shard >= st.Shards {
			t.Fatalf("accepted shard %d of %d", st.Shard, st.Shards)
		}
		if err := WriteState(dir, st); err != nil {
			t.Fatal(err)
		}
		back, ok, err := ReadState(dir)
		if err != nil || !ok || back != st {
			t.Fatalf("round trip: %+v, %v, %v; want %+v", back, ok, err, st)
		}
	})
}
