package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/shard"
)

// TestSearchAPI serves a 2-shard collection through /api/search,
// /api/documents and /api/delete, then with one shard down.
func TestSearchAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	tmp := t.TempDir()
	recs, err := embed.ReadRecordsFile(filepath.Join("..", "defaults", "kjv", "verses.jsonl.gz"), embed.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io := index.DefaultOptions()
	io.Kind = index.Flat
	single, _, err := search.Build(context.Background(), filepath.Join(tmp, "all"), recs[:300], search.Options{Model: defaults.Embed, Index: io}, search.AddOptions{}, search.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	split, err := shard.Split(filepath.Join(tmp, "all"), 2, filepath.Join(tmp, "s"), shard.SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t)
	stops := make([]func(), 2)
	for i, dir := range split.Dirs {
		r, err := shard.OpenReplica(dir, shard.ReplicaOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan struct{}), make(chan error, 1)
		go func() { done <- r.Run(ctx, nc, js, func() { close(ready) }) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatal(err)
		}
		stops[i] = func() { cancel(); <-done; r.Close(); nc.Close() }
		t.Cleanup(func() { cancel(); nc.Close() })
	}
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := shard.NewClient(context.Background(), nc, js, shard.ClientOptions{ShardTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts := httptest.NewServer(NewSearch(c, Options{}))
	defer ts.Close()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}

	q := recs[40].Text
	code, v := post("/api/search", `{"query": `+jsonString(q)+`, "k": 3}`)
	want, _ := single.Search(context.Background(), q, search.SearchOptions{K: 3})
	if code != 200 || v["partial"] != false || len(v["missing"].([]any)) != 0 {
		t.Fatalf("search: %d %v", code, v)
	}
	hits := v["results"].([]any)[0].([]any)
	for i, h := range hits {
		if id := uint64(h.(map[string]any)["id"].(float64)); id != want[i].ID {
			t.Errorf("hit %d: id %d, want %d", i, id, want[i].ID)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"query": "x", "mode": "sideways"}`, "Mode"},
		{`{"k": 3}`, "query"},
		{`{"query": "x", "filter": ["novalue"]}`, "novalue"},
		{`{"query": "x", "bogus": 1}`, "bogus"},
	} {
		if code, v := post("/api/search", c.body); code != 400 || !strings.Contains(v["error"].(string), c.want) {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, code, v, c.want)
		}
	}

	code, v = post("/api/documents", `{"documents": [{"text": "a wholly new verse about zebras", "id": 9999, "ref": "new"}]}`)
	if code != 200 || v["ids"].([]any)[0].(float64) != 9999 {
		t.Fatalf("documents: %d %v", code, v)
	}
	found := func() bool {
		_, v := post("/api/search", `{"query": "zebras", "k": 1, "mode": "bm25"}`)
		r := v["results"].([]any)[0].([]any)
		return len(r) == 1 && r[0].(map[string]any)["id"].(float64) == 9999
	}
	waitFor(t, found, true)
	if code, v := post("/api/documents", `{"documents": [{"text": "x", "id": "str"}]}`); code == 200 {
		t.Errorf("string id accepted: %v", v)
	}
	if code, v = post("/api/delete", `{"ids": [9999]}`); code != 200 {
		t.Fatalf("delete: %d %v", code, v)
	}
	waitFor(t, found, false)

	// Shard 1 down: a partial answer naming it, or 503 with require_all.
	stops[1]()
	code, v = post("/api/search", `{"query": "light", "k": 3}`)
	missing := v["missing"].([]any)
	if code != 200 || v["partial"] != true || len(missing) != 1 || missing[0].(map[string]any)["shard"].(float64) != 1 {
		t.Fatalf("one shard down: %d %v", code, v)
	}
	code, v = post("/api/search", `{"query": "light", "k": 3, "require_all": true}`)
	if code != 503 || !strings.Contains(v["error"].(string), "shard 1") {
		t.Fatalf("require_all: %d %v", code, v)
	}
}

func waitFor(t *testing.T, cond func() bool, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for cond() != want {
		if time.Now().After(deadline) {
			t.Fatalf("condition not %v after 10s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
