package shard

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/search"
)

// TestRandomKills: replica processes of 2 shards × 2 replicas are killed
// with SIGKILL at random moments while documents are added and deleted,
// and restarted after random delays; at the end every replica directory,
// reopened and caught up from the stream, holds exactly the documents of
// its shard: none lost, none duplicated, none deleted left. Runs
// LOUPE_KILL_RUNS rounds (default 3; the target is 20).
func TestRandomKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and replica processes")
	}
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("LOUPE_KILL_RUNS")); err == nil && v > 0 {
		runs = v
	}
	tmp := t.TempDir()
	recs := testRecords(t, 200)
	buildSingle(t, filepath.Join(tmp, "single"), recs)
	split, err := Split(filepath.Join(tmp, "single"), 2, filepath.Join(tmp, "split"), SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t)
	names := []string{"s0a", "s0b", "s1a", "s1b"}
	for _, n := range names {
		copyDir(t, split.Dirs[int(n[1]-'0')], filepath.Join(tmp, n))
	}
	want := map[uint64]bool{}
	for i := range recs {
		want[uint64(i)] = true
	}
	rng := rand.New(rand.NewSource(1))
	next := uint64(1000)
	var c *Client
	for run := range runs {
		procs := map[string]*replicaProc{}
		for _, n := range names {
			procs[n] = startProc(t, url, filepath.Join(tmp, n), n)
		}
		if c == nil {
			c = newClient(t, url, 2*time.Second)
		}
		victim := names[rng.Intn(len(names))]
		killAt := rng.Intn(8)
		for batch := range 10 {
			if batch == killAt {
				procs[victim].kill()
			}
			if batch == killAt+1+rng.Intn(2) {
				procs[victim] = startProc(t, url, filepath.Join(tmp, victim), victim)
			}
			var docs []search.Document
			for range 5 {
				docs = append(docs, search.Document{ID: next, Text: recs[rng.Intn(len(recs))].Text})
				want[next] = true
				next++
			}
			if _, err := c.Add(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			if batch%3 == 2 {
				var gone []uint64
				for id := range want {
					if rng.Intn(20) == 0 {
						gone = append(gone, id)
					}
				}
				for _, id := range gone {
					delete(want, id)
				}
				if _, err := c.Delete(context.Background(), gone); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
		}
		for _, p := range procs {
			p.kill()
		}
		// Reopen every directory, catch up, compare.
		for _, n := range names {
			r, err := OpenReplica(filepath.Join(tmp, n), ReplicaOptions{Name: n})
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
			got := r.IDs()
			cancel()
			<-done
			r.Close()
			nc.Close()
			var exp []uint64
			for id := range want {
				if ShardOf(id, 2) == r.Shard().I {
					exp = append(exp, id)
				}
			}
			slices.Sort(exp)
			slices.Sort(got)
			if !slices.Equal(got, exp) {
				t.Fatalf("run %d (killed %s): %s holds %d documents, want %d: %v", run, victim, n, len(got), len(exp), diff(got, exp))
			}
		}
	}
}

// diff describes how sorted got differs from sorted want.
func diff(got, want []uint64) string {
	g, w := map[uint64]int{}, map[uint64]bool{}
	for _, id := range got {
		g[id]++
	}
	for _, id := range want {
		w[id] = true
	}
	var lost, extra, dup []uint64
	for id := range w {
		if g[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range g {
		if !w[id] {
			extra = append(extra, id)
		}
		if n > 1 {
			dup = append(dup, id)
		}
	}
	return fmt.Sprintf("lost %v, extra %v, duplicated %v", lost, extra, dup)
}
