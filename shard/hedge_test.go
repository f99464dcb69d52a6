package shard

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/search"
)

// TestHedge: a member of the shard's queue group that takes queries and
// never answers (a replica that died holding them) costs a query one
// hedge delay, not the shard timeout, and never a partial answer.
func TestHedge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	tmp := t.TempDir()
	recs := testRecords(t, 300)
	single := buildSingle(t, filepath.Join(tmp, "single"), recs)
	split, err := Split(filepath.Join(tmp, "single"), 1, filepath.Join(tmp, "s"), SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t)
	startReplica(t, url, split.Dirs[0], "live")
	hole, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	var swallowed atomic.Int64
	if _, err := hole.QueueSubscribe(searchSubject(DefaultCollection, 0), queueGroup(0), func(*nats.Msg) { swallowed.Add(1) }); err != nil {
		t.Fatal(err)
	}
	hole.Flush()
	c := newClient(t, url, 5*time.Second)
	opts := search.SearchOptions{K: 5}
	questions := testQuestions(recs)
	for i := range 20 {
		q := questions[i%len(questions)]
		start := time.Now()
		got, err := c.Search(context.Background(), []string{q}, opts)
		took := time.Since(start)
		if err == nil {
			err = got.Err()
		}
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		want, _ := single.SearchMany(context.Background(), []string{q}, opts)
		if err := sameHits(got.Hits[0], want.Hits[0]); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if took > 2*time.Second {
			t.Errorf("query %d took %v (the shard timeout is 5s, a hedge should come after about %v)", i, took, minHedge)
		}
	}
	hole.Flush()
	if swallowed.Load() == 0 {
		t.Error("no query went to the member that never answers: the test tested nothing")
	}
}

// TestStreamRecreated: a replica whose shard.json counts sequences of a
// stream that was deleted and made again refuses to serve, instead of
// skipping the new stream's first updates.
func TestStreamRecreated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	tmp := t.TempDir()
	recs := testRecords(t, 50)
	buildSingle(t, filepath.Join(tmp, "single"), recs)
	split, err := Split(filepath.Join(tmp, "single"), 1, filepath.Join(tmp, "s"), SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t)
	rr := startReplica(t, url, split.Dirs[0], "r")
	c := newClient(t, url, 2*time.Second)
	if _, err := c.Add(context.Background(), []search.Document{{Text: "one more"}}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, url, rr)
	rr.stop(t)
	st, _, _ := ReadState(split.Dirs[0])
	if st.Applied != 1 || st.Stream == "" {
		t.Fatalf("state after one update: %+v", st)
	}
	if err := c.js.DeleteStream(context.Background(), streamName(DefaultCollection)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a new stream gets a later creation time
	r, err := OpenReplica(split.Dirs[0], ReplicaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = r.Run(ctx, c.nc, c.js, nil)
	if err == nil || !strings.Contains(err.Error(), "deleted and made again") {
		t.Fatalf("replica of a recreated stream: %v", err)
	}
}
