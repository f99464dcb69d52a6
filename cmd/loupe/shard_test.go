package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/internal/natstest"
)

// TestShardCLI: loupe shard split, two loupe serve --index --nats
// processes, loupe search --nats (the same hits as loupe search --index),
// loupe index add --nats, and a partial answer once a shard is stopped.
func TestShardCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and loupe processes")
	}
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs.jsonl")
	var in strings.Builder
	for _, v := range []string{"In the beginning God created the heaven and the earth.", "And God said, Let there be light: and there was light.",
		"And the evening and the morning were the first day.", "And God called the firmament Heaven.", "Let the waters bring forth abundantly.",
		"And God made two great lights.", "And the LORD God planted a garden eastward in Eden.", "Be fruitful, and multiply, and replenish the earth."} {
		b, _ := json.Marshal(map[string]string{"text": v})
		in.Write(append(b, '\n'))
	}
	os.WriteFile(docs, []byte(in.String()), 0o644)
	idx := filepath.Join(dir, "docs.idx")
	if _, stderr, err := runCmd(t, "index", "build", "--input", docs, "--kind", "flat", "--out", idx); err != nil {
		t.Fatal(err, stderr)
	}
	out, _, err := runCmd(t, "shard", "split", "--index", idx, "--shards", "2", "--out", filepath.Join(dir, "s"), "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var split struct {
		Dirs   []string `json:"dirs"`
		Counts []int    `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &split); err != nil || len(split.Dirs) != 2 || split.Counts[0]+split.Counts[1] != 8 {
		t.Fatalf("split: %q, %v", out, err)
	}
	if _, _, err := runCmd(t, "shard", "split", "--index", idx, "--shards", "2", "--out", filepath.Join(dir, "s")); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("split over existing shards: %v", err)
	}

	_, url := natstest.Start(t)
	var procs []func()
	for _, d := range split.Dirs {
		cmd, lines := startLoupe(t, "serve", "--index", d, "--nats", url)
		select {
		case line := <-lines:
			if !strings.Contains(line, "serving shard") {
				t.Fatalf("serve printed %q", line)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start in 30s")
		}
		procs = append(procs, func() { cmd.Process.Kill(); cmd.Wait() })
	}

	q := "the light of the first day"
	want, _, err := runCmd(t, "search", "--index", idx, "--k", "3", "--format", "json", q)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := runCmd(t, "search", "--nats", url, "--k", "3", "--format", "json", q)
	if err != nil {
		t.Fatal(err)
	}
	var w, g struct {
		Results []struct {
			ID    uint64  `json:"id"`
			Score float32 `json:"score"`
		} `json:"results"`
		Partial bool `json:"partial"`
		Missing []struct {
			Shard int `json:"shard"`
		} `json:"missing"`
	}
	json.Unmarshal([]byte(want), &w)
	json.Unmarshal([]byte(got), &g)
	if len(w.Results) != 3 || g.Partial || len(g.Results) != 3 {
		t.Fatalf("search --index %s\nsearch --nats %s", want, got)
	}
	for i := range w.Results {
		if g.Results[i] != w.Results[i] {
			t.Errorf("hit %d: %+v, want %+v", i, g.Results[i], w.Results[i])
		}
	}
	if _, _, err := runCmd(t, "search", "--nats", url, "--index", idx, q); err == nil {
		t.Error("--nats with --index: no error")
	}

	more := filepath.Join(dir, "more.jsonl")
	os.WriteFile(more, []byte(`{"text": "zebras and giraffes", "id": 100}`+"\n"), 0o644)
	if out, _, err := runCmd(t, "index", "add", "--nats", url, "--input", more, "--format", "json"); err != nil || !strings.Contains(out, `"ids":[100]`) {
		t.Fatalf("index add --nats: %q, %v", out, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, err := runCmd(t, "search", "--nats", url, "--k", "1", "--mode", "bm25", "zebras")
		if err == nil && strings.Contains(out, "id 100") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("added document not found: %q, %v", out, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	out, _, err = runCmd(t, "shard", "status", "--nats", url, "--format", "json")
	var st struct {
		Info struct {
			Shards int `json:"shards"`
		} `json:"info"`
		Shards []struct {
			Docs    int    `json:"docs"`
			Applied uint64 `json:"applied"`
			Last    uint64 `json:"last"`
			Missing string `json:"missing"`
		} `json:"shards"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Info.Shards != 2 || len(st.Shards) != 2 || st.Shards[0].Docs+st.Shards[1].Docs != 9 {
		t.Fatalf("shard status: %q, %v", out, err)
	}
	for i, s := range st.Shards {
		if s.Missing != "" || s.Applied != s.Last {
			t.Errorf("shard status: shard %d: %+v", i, s)
		}
	}

	procs[1]()
	if _, _, err := runCmd(t, "shard", "status", "--nats", url, "--shard-timeout", "300ms"); err == nil || !strings.Contains(err.Error(), "shard 1 has no live replica") {
		t.Errorf("shard status with shard 1 down: %v", err)
	}
	_, stderr, err := runCmd(t, "search", "--nats", url, "--shard-timeout", "300ms", q)
	if err != nil || !strings.Contains(stderr, "partial answer") || !strings.Contains(stderr, "shard 1") {
		t.Errorf("one shard down: stderr %q, %v", stderr, err)
	}
	if _, _, err := runCmd(t, "search", "--nats", url, "--shard-timeout", "300ms", "--require-all", q); err == nil || !strings.Contains(err.Error(), "shard 1") {
		t.Errorf("--require-all with a shard down: %v", err)
	}
}
