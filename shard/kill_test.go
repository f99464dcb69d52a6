package shard

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/search"
)

// A test binary started with replicaEnv set to "URL|DIR|NAME" is a replica
// process: it serves DIR, prints "READY" once it answers queries, and runs
// until killed.
const replicaEnv = "LOUPE_SHARD_TEST_REPLICA"

func TestMain(m *testing.M) {
	if spec := os.Getenv(replicaEnv); spec != "" {
		os.Exit(replicaProcess(spec))
	}
	os.Exit(m.Run())
}

func replicaProcess(spec string) int {
	parts := strings.Split(spec, "|")
	url, dir, name := parts[0], parts[1], parts[2]
	r, err := OpenReplica(dir, ReplicaOptions{Name: name, SaveInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url, Name: name})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := r.Run(context.Background(), nc, js, func() { fmt.Println("READY") }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// replicaProc is a replica running in a child process.
type replicaProc struct{ cmd *exec.Cmd }

// startProc starts a replica process serving dir and waits until it
// answers queries.
func startProc(t *testing.T, url, dir, name string) *replicaProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), replicaEnv+"="+url+"|"+dir+"|"+name)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &replicaProc{cmd}
	t.Cleanup(p.kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("replica process %s: %q, %v", name, line, err)
	}
	return p
}

// kill sends SIGKILL and reaps the process.
func (p *replicaProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// TestKill9 kills replica processes with SIGKILL: while queries run (the
// answers stay complete and right), while updates are published (the
// replica restarted from its directory catches up and answers alone as
// one machine would), and both replicas of a shard (a partial answer
// naming it).
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and replica processes")
	}
	tmp := t.TempDir()
	recs := testRecords(t, 1200)
	single := buildSingle(t, filepath.Join(tmp, "single"), recs)
	questions := testQuestions(recs)
	res, err := Split(filepath.Join(tmp, "single"), 2, filepath.Join(tmp, "split"), SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t)
	for _, name := range []string{"a", "b"} {
		copyDir(t, res.Dirs[0], filepath.Join(tmp, "s0"+name))
	}
	copyDir(t, res.Dirs[1], filepath.Join(tmp, "s1"))
	a := startProc(t, url, filepath.Join(tmp, "s0a"), "s0a")
	b := startProc(t, url, filepath.Join(tmp, "s0b"), "s0b")
	startReplica(t, url, filepath.Join(tmp, "s1"), "s1")
	c := newClient(t, url, 2*time.Second)
	dense := search.SearchOptions{K: 10}

	// Queries while s0a dies.
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(errc)
		for n := 0; ; n++ {
			select {
			case <-stop:
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
				return
			}
		}
	})
	time.Sleep(150 * time.Millisecond)
	a.kill()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// Updates while s0a is down; s0b applies them, then dies too.
	var docs []search.Document
	for i := range 30 {
		docs = append(docs, search.Document{Text: fmt.Sprintf("%s again %d", recs[i*11].Text, i)})
	}
	pub, err := c.Add(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	gone := []uint64{0, 5, 77, pub.IDs[3]}
	_, err = c.Delete(context.Background(), gone)
	if err != nil {
		t.Fatal(err)
	}
	for i := range docs {
		docs[i].ID = pub.IDs[i]
	}
	if _, err := single.Add(context.Background(), docs, search.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := single.Delete(gone...); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, url, c)
	b.kill()
	// s0a restarts from what it saved before SIGKILL, catches up from the
	// stream, and is shard 0's only replica.
	a = startProc(t, url, filepath.Join(tmp, "s0a"), "s0a")
	checkAgainst(t, c, single, questions, dense)
	checkAgainst(t, c, single, []string{docs[0].Text, docs[3].Text}, dense)

	// With no replica of shard 0 left, answers are partial and say so.
	a.kill()
	short := newClient(t, url, 300*time.Millisecond)
	got, err := short.Search(context.Background(), questions[:1], dense)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.MissingShards(), []int{0}) {
		t.Fatalf("missing %v, want shard 0", got.Missing)
	}
}

// waitAnswer waits until every shard answers with the last update of its
// subject in the stream applied.
func waitAnswer(t *testing.T, url string, c *Client) {
	t.Helper()
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	st, err := js.Stream(context.Background(), streamName(DefaultCollection))
	if err != nil {
		t.Fatal(err)
	}
	last := make([]uint64, c.Info().Shards)
	for i := range last {
		if m, err := st.GetLastMsgForSubject(context.Background(), docsSubject(DefaultCollection, i)); err == nil {
			last[i] = m.Sequence
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := c.Search(context.Background(), []string{"wait"}, search.SearchOptions{K: 1, Mode: search.ModeBM25})
		done := err == nil && r.Complete()
		for i := range last {
			done = done && r.Applied[i] >= last[i]
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("updates up to %v not applied after 20s: %+v, %v", last, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
