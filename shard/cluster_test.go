package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/search"
)

const (
	testDocs   = 3000 // KJV verses: Genesis and Exodus, with repeated verses (ties)
	testShards = 4
)

// testRecords returns the first n KJV verses.
func testRecords(t testing.TB, n int) []embed.Record {
	t.Helper()
	recs, err := embed.ReadRecordsFile(filepath.Join("..", "defaults", "kjv", "verses.jsonl.gz"), embed.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return recs[:n]
}

// testQuestions are questions for the collection: a few of its verses
// (repeated verses give ties), and made-up ones.
func testQuestions(recs []embed.Record) []string {
	qs := []string{"And the LORD spake unto Moses, saying,", "One kid of the goats for a sin offering:",
		"the flood and the ark", "Joseph and his brethren in Egypt", "bread from heaven", "a burning bush",
		"the tabernacle of the congregation", "Abraham Isaac Jacob", "plagues upon Pharaoh", "xyzzy"}
	for i := 7; i < len(recs); i += 397 {
		qs = append(qs, recs[i].Text)
	}
	return qs
}

// buildSingle builds the whole collection as one flat index in dir.
func buildSingle(t testing.TB, dir string, recs []embed.Record) *search.Store {
	t.Helper()
	io := index.DefaultOptions()
	io.Kind = index.Flat
	s, _, err := search.Build(context.Background(), dir, recs, search.Options{Model: defaults.Embed, Index: io}, search.AddOptions{}, search.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// copyDir copies the files of shard directory src to dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{index.FileName, StateFile} {
		in, err := os.Open(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, name))
		if err == nil {
			_, err = io.Copy(out, in)
			out.Close()
		}
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testLogf returns a Logf that logs to t until the test ends (with
// LOUPE_SHARD_LOG set; replicas log what they apply and resume).
func testLogf(t testing.TB, name string) func(string, ...any) {
	if os.Getenv("LOUPE_SHARD_LOG") == "" {
		return nil
	}
	var mu sync.Mutex
	ended := false
	t.Cleanup(func() { mu.Lock(); ended = true; mu.Unlock() })
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			t.Logf("%s %s: %s", time.Now().Format("05.000"), name, fmt.Sprintf(format, args...))
		}
	}
}

// runningReplica is a replica serving in-process.
type runningReplica struct {
	r      *Replica
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

// kill stops the replica abruptly: its connection is closed (answers in
// flight are lost) without saving.
func (rr *runningReplica) kill() {
	rr.nc.Close()
	rr.cancel()
	<-rr.done
}

// stop stops the replica cleanly: it saves what it applied.
func (rr *runningReplica) stop(t testing.TB) {
	rr.cancel()
	if err := <-rr.done; err != nil {
		t.Error(err)
	}
	if err := rr.r.Close(); err != nil {
		t.Error(err)
	}
	rr.nc.Close()
}

// startReplica opens dir and serves it until the test ends.
func startReplica(t testing.TB, url, dir, name string) *runningReplica {
	t.Helper()
	r, err := OpenReplica(dir, ReplicaOptions{Name: name, SaveInterval: 200 * time.Millisecond, Logf: testLogf(t, name)})
	if err != nil {
		t.Fatal(err)
	}
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningReplica{r: r, nc: nc, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { rr.done <- r.Run(ctx, nc, js, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-rr.done:
		t.Fatalf("replica %s: %v", name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %s not ready after 30s", name)
	}
	t.Cleanup(func() {
		rr.cancel()
		rr.nc.Close()
	})
	return rr
}

func newClient(t testing.TB, url string, timeout time.Duration) *Client {
	t.Helper()
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url, Name: "client"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := NewClient(context.Background(), nc, js, ClientOptions{ShardTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// sameHits reports how got differs from want: ids, scores (bit for bit),
// distances and order.
func sameHits(got, want []search.Hit) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d hits, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Score != w.Score || g.Distance != w.Distance || g.Rank != w.Rank || g.Text != w.Text {
			return fmt.Errorf("hit %d: id %d score %v distance %v rank %d, want id %d score %v distance %v rank %d", i, g.ID, g.Score, g.Distance, g.Rank, w.ID, w.Score, w.Distance, w.Rank)
		}
	}
	return nil
}

// checkAgainst searches each question through c and on the single
// store, one question at a time, and fails on any difference or missing
// shard.
func checkAgainst(t *testing.T, c *Client, single *search.Store, questions []string, opts search.SearchOptions) {
	t.Helper()
	ctx := context.Background()
	for _, q := range questions {
		got, err := c.Search(ctx, []string{q}, opts)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if err := got.Err(); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		want, err := single.SearchMany(ctx, []string{q}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameHits(got.Hits[0], want.Hits[0]); err != nil {
			t.Errorf("%s search %q: %v", opts.Mode, q, err)
		}
	}
}

// waitApplied waits until every replica has applied the last update of
// its shard in the stream.
func waitApplied(t testing.TB, url string, rs ...*runningReplica) {
	t.Helper()
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	st, err := js.Stream(ctx, streamName(DefaultCollection))
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rs {
		m, err := st.GetLastMsgForSubject(ctx, docsSubject(DefaultCollection, rr.r.Shard().I))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for rr.r.Applied() < m.Sequence {
			if time.Now().After(deadline) {
				t.Fatalf("replica of shard %d applied %d after 20s, the stream is at %d", rr.r.Shard().I, rr.r.Applied(), m.Sequence)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestCluster runs 4 shards × 2 replicas on a 3-node JetStream cluster
// and checks the answers against one flat index of the whole collection:
// complete and identical; while a replica is killed during queries; after
// adds and deletes a replica missed while it was down; with one NATS node
// down; and, with both replicas of a shard down, a partial answer naming
// the shard.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	tmp := t.TempDir()
	recs := testRecords(t, testDocs)
	single := buildSingle(t, filepath.Join(tmp, "single"), recs)
	questions := testQuestions(recs)
	res, err := Split(filepath.Join(tmp, "single"), testShards, filepath.Join(tmp, "split"), SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range res.Counts {
		total += n
	}
	if total != testDocs {
		t.Fatalf("split counts %v add up to %d, want %d", res.Counts, total, testDocs)
	}
	cl := natstest.StartCluster(t, 3)
	url := cl.URL()
	reps := map[string]*runningReplica{}
	for i, dir := range res.Dirs {
		for _, r := range []string{"a", "b"} {
			name := fmt.Sprintf("s%d%s", i, r)
			d := filepath.Join(tmp, name)
			copyDir(t, dir, d)
			reps[name] = startReplica(t, url, d, name)
		}
	}
	c := newClient(t, url, 2*time.Second)
	if got := c.Info(); got.Shards != testShards || got.Model != defaults.Embed || got.Kind != string(index.Flat) {
		t.Fatalf("registered %+v", got)
	}
	dense := search.SearchOptions{K: 10}

	t.Run("identical", func(t *testing.T) {
		checkAgainst(t, c, single, questions, dense)
		checkAgainst(t, c, single, questions[:2], search.SearchOptions{K: 3}) // ties at the k-th
		checkAgainst(t, c, single, questions[:5], search.SearchOptions{K: 5, Filter: []search.Condition{{Key: "ref", Value: "Exodus 3:2"}}})
		// A batch of questions gives each its own hits.
		got, err := c.Search(context.Background(), questions[:4], dense)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := single.SearchMany(context.Background(), questions[:4], dense)
		for i := range want.Hits {
			if err := sameHits(got.Hits[i], want.Hits[i]); err != nil {
				t.Errorf("batch question %d: %v", i, err)
			}
		}
		// BM25 and hybrid with the shards' summed statistics: identical.
		bm25 := search.SearchOptions{K: 10, Mode: search.ModeBM25}
		checkAgainst(t, c, single, questions, bm25)
		checkAgainst(t, c, single, questions, search.SearchOptions{K: 10, Mode: search.ModeHybrid})
		checkAgainst(t, c, single, questions[:6], search.SearchOptions{K: 5, Mode: search.ModeHybrid, Fusion: search.FusionWeighted, Candidates: 30})
		checkAgainst(t, c, single, questions[:6], search.SearchOptions{K: 5, Mode: search.ModeBM25, B: new(0.3), Filter: []search.Condition{{Key: "ref", Value: "Genesis 1:1"}}})
		// With each shard's own statistics (one round): measure how far
		// that takes the top 10 from one machine's (docs/cluster.md
		// quotes it).
		approx := newClient(t, url, 2*time.Second)
		approx.opts.ShardBM25Stats = true
		shared, total := 0, 0
		for _, q := range questions {
			got, err := approx.Search(context.Background(), []string{q}, bm25)
			if err != nil || !got.Complete() {
				t.Fatalf("bm25 %q: %v", q, err)
			}
			want, _ := single.SearchMany(context.Background(), []string{q}, bm25)
			in := map[uint64]bool{}
			for _, h := range want.Hits[0] {
				in[h.ID] = true
			}
			for _, h := range got.Hits[0] {
				if in[h.ID] {
					shared++
				}
			}
			total += len(want.Hits[0])
		}
		t.Logf("bm25 top 10 over %d shards with per-shard statistics: %d of %d single-machine hits found (%.0f%%)", testShards, shared, total, 100*float64(shared)/float64(total))
		if shared < total*7/10 {
			t.Errorf("bm25 over shards shares %d of %d hits with one machine", shared, total)
		}
		// BM25 and hybrid: complete, K hits, best first.
		for _, mode := range []search.Mode{search.ModeBM25, search.ModeHybrid} {
			r, err := c.Search(context.Background(), questions[2:3], search.SearchOptions{K: 5, Mode: mode})
			if err != nil || !r.Complete() || len(r.Hits[0]) != 5 {
				t.Fatalf("%s: %v, %+v", mode, err, r)
			}
			for i := 1; i < 5; i++ {
				if r.Hits[0][i].Score > r.Hits[0][i-1].Score {
					t.Errorf("%s: hit %d scores %v above hit %d's %v", mode, i, r.Hits[0][i].Score, i-1, r.Hits[0][i-1].Score)
				}
			}
		}
	})

	t.Run("catch-up", func(t *testing.T) {
		// s1b is down while documents are added and deleted.
		reps["s1b"].stop(t)
		var docs []search.Document
		for i := 0; i < 40; i++ {
			docs = append(docs, search.Document{Text: fmt.Sprintf("%s (copy %d)", recs[3000+i%3-3].Text, i), Meta: map[string]any{"ref": fmt.Sprintf("copy %d", i)}})
		}
		docs = append(docs, search.Document{ID: uint64(5000), Text: "a burning bush that was not consumed"})
		pub, err := c.Add(context.Background(), docs)
		if err != nil {
			t.Fatal(err)
		}
		// As on one machine: new ids after the largest given (5000).
		if pub.IDs[0] != 5001 || pub.IDs[39] != 5040 || pub.IDs[40] != 5000 {
			t.Fatalf("ids %v: want 5001… then 5000", pub.IDs)
		}
		gone := []uint64{1, 2, 3, 500, 2999, pub.IDs[7]}
		if _, err := c.Delete(context.Background(), gone); err != nil {
			t.Fatal(err)
		}
		// The same changes on one machine.
		for i := range docs {
			docs[i].ID = pub.IDs[i]
		}
		if _, err := single.Add(context.Background(), docs, search.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := single.Delete(gone...); err != nil {
			t.Fatal(err)
		}
		var live []*runningReplica
		for name, rr := range reps {
			if name != "s1b" {
				live = append(live, rr)
			}
		}
		waitApplied(t, url, live...)
		// s1a answers alone for shard 1 and is up to date.
		checkAgainst(t, c, single, questions, dense)
		checkAgainst(t, c, single, []string{"a burning bush", "copy"}, dense)
		// s1b comes back, catches up from the sequence it saved, and
		// answers as s1a does.
		rb := startReplica(t, url, filepath.Join(tmp, "s1b"), "s1b")
		reps["s1b"] = rb
		if rb.r.Applied() < reps["s1a"].r.Applied() {
			t.Fatalf("s1b ready at sequence %d, s1a is at %d", rb.r.Applied(), reps["s1a"].r.Applied())
		}
		qv, err := single.Embedder(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		vecs, _ := qv.Embed(questions)
		a, _, _, err := reps["s1a"].r.Search(context.Background(), questions, vecs, dense)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _, err := rb.r.Search(context.Background(), questions, vecs, dense)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if err := sameHits(b[i], a[i]); err != nil {
				t.Errorf("question %d: s1b vs s1a: %v", i, err)
			}
		}
		if rb.r.Len() != reps["s1a"].r.Len() {
			t.Errorf("s1b holds %d documents, s1a %d", rb.r.Len(), reps["s1a"].r.Len())
		}
	})

	t.Run("kill-replica", func(t *testing.T) {
		// Queries run while s0a dies: every answer is complete and right.
		errc := make(chan error, 1)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			n := 0
			for {
				select {
				case <-stop:
					if n == 0 {
						errc <- errors.New("no query ran")
					}
					close(errc)
					return
				default:
				}
				q := questions[n%len(questions)]
				got, err := c.Search(context.Background(), []string{q}, dense)
				if err == nil {
					err = got.Err()
				}
				if err == nil {
					want, _ := single.SearchMany(context.Background(), []string{q}, dense)
					err = sameHits(got.Hits[0], want.Hits[0])
				}
				if err != nil {
					errc <- fmt.Errorf("query %d: %w", n, err)
					close(errc)
					return
				}
				n++
			}
		})
		time.Sleep(100 * time.Millisecond)
		reps["s0a"].kill()
		time.Sleep(400 * time.Millisecond)
		close(stop)
		wg.Wait()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("nats-node-down", func(t *testing.T) {
		cl.Servers[0].Shutdown()
		cl.Servers[0].WaitForShutdown()
		checkAgainst(t, c, single, questions, dense)
		// Updates still flow to every live replica (R3 stream, two of
		// three nodes up) and answers stay identical.
		docs := []search.Document{{ID: uint64(7000), Text: "after the node was lost: a still small voice"}, {ID: uint64(7001), Text: "and the sea was calm"}}
		if _, err := c.Add(context.Background(), docs); err != nil {
			t.Fatal(err)
		}
		if _, err := single.Add(context.Background(), docs, search.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		var live []*runningReplica
		for name, rr := range reps {
			if name != "s0a" {
				live = append(live, rr)
			}
		}
		waitApplied(t, cl.URL(), live...)
		checkAgainst(t, c, single, append(questions, "a still small voice"), dense)
	})

	t.Run("shard-down", func(t *testing.T) {
		reps["s0b"].kill() // s0a was killed above
		short := newClient(t, cl.URL(), 300*time.Millisecond)
		got, err := short.Search(context.Background(), questions[:1], dense)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.MissingShards(), []int{0}) || !errors.Is(got.Err(), ErrIncomplete) {
			t.Fatalf("missing %v (%v), want shard 0", got.Missing, got.Err())
		}
		if len(got.Hits[0]) != dense.K {
			t.Fatalf("%d hits from the other shards, want %d", len(got.Hits[0]), dense.K)
		}
		for _, h := range got.Hits[0] {
			if ShardOf(h.ID, testShards) == 0 {
				t.Errorf("hit %d is from the missing shard", h.ID)
			}
		}
	})
}
