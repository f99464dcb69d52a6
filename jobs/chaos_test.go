package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/train"
)

// A test binary started with chaosWorkerEnv set to a NATS URL list is a
// real worker (Work) for TestRandomFaults: it prints "START task" when it
// begins a task (then spends chaosTaskDelay in it, so that a kill at a
// random moment often finds it holding one) and "EVENT {…}" (a TaskEvent)
// when it has handled one. It runs until it is killed or gets SIGTERM.
const (
	chaosWorkerEnv = "LOUPE_JOBS_TEST_CHAOS_WORKER"
	chaosNameEnv   = "LOUPE_JOBS_TEST_CHAOS_NAME"
	chaosTaskDelay = 25 * time.Millisecond
	chaosAckWait   = 1500 * time.Millisecond
)

func chaosWorker(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	nc, js, err := natsconn.ConnectJetStream(ctx, natsconn.Options{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	var mu sync.Mutex // one line at a time on stdout
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format, a...)
	}
	opts := WorkerOptions{
		Config: Config{AckWait: chaosAckWait}, Name: os.Getenv(chaosNameEnv), storeTimeout: 2 * time.Second,
		OnTask: func(ev TaskEvent) {
			b, _ := json.Marshal(ev)
			say("EVENT %s\n", b)
		},
		taskHook: func(job string, n int) {
			say("START %d\n", n)
			time.Sleep(chaosTaskDelay)
		},
	}
	if err := Work(ctx, js, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// faultStats counts what the runs of TestRandomFaults did.
type faultStats struct {
	runs, tasks     int
	kills, midTask  int // workers killed; of them, holding a task (started, not reported)
	nodeLosses      int
	redeliveries    int           // deliveries after a task's first (the highest delivery number seen, less 1, summed)
	recomputed      int           // tasks whose output was computed and stored more than once
	skipped         int           // redeliveries of stored tasks acknowledged without running
	lost, duplicate int           // tasks without an output; output objects or done keys beyond one per task
	waitLag         time.Duration // the longest time from a job's last task done to Wait's return
}

func (s *faultStats) add(o faultStats) {
	s.runs += o.runs
	s.tasks += o.tasks
	s.kills += o.kills
	s.midTask += o.midTask
	s.nodeLosses += o.nodeLosses
	s.redeliveries += o.redeliveries
	s.recomputed += o.recomputed
	s.skipped += o.skipped
	s.lost += o.lost
	s.duplicate += o.duplicate
	s.waitLag = max(s.waitLag, o.waitLag)
}

func (s faultStats) String() string {
	return fmt.Sprintf("%d runs, %d tasks: %d workers killed with SIGKILL (%d holding a task), %d NATS nodes lost and restarted, %d redeliveries (%d tasks computed again, %d found done and skipped), %d lost, %d duplicated; Wait returned at most %v after the last task was done",
		s.runs, s.tasks, s.kills, s.midTask, s.nodeLosses, s.redeliveries, s.recomputed, s.skipped, s.lost, s.duplicate, s.waitLag.Round(time.Millisecond))
}

// TestRandomFaults runs batch jobs on a 3-node JetStream cluster (R3)
// with 2-3 worker processes while, at random moments, a worker is killed
// with SIGKILL (and a replacement started) and, in two runs of three, one
// NATS node is shut down and later restarted. Each job (embed; every
// other run an index or a knnlm-datastore job instead) has many small
// tasks; Wait runs from the submission on. Then the output must equal the
// single-machine result byte for byte, every task have exactly one output
// object and one done record, no task be left queued, failed or
// dead-lettered. LOUPE_KILL_RUNS sets the number of runs (default 3; the
// issue's target is 20); LOUPE_FAULT_SEED the first run's seed (default:
// from the clock; each run logs its seed, and LOUPE_FAULT_SEED=S
// LOUPE_KILL_RUNS=1 replays the plan of the run with seed S).
func TestRandomFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS clusters and worker processes")
	}
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("LOUPE_KILL_RUNS")); err == nil && v > 0 {
		runs = v
	}
	seed := time.Now().UnixNano() % 1_000_000
	if v := os.Getenv("LOUPE_FAULT_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s < 0 {
			t.Fatalf("LOUPE_FAULT_SEED=%q: want a number ≥ 0", v)
		}
		seed = s
	}
	t.Logf("LOUPE_FAULT_SEED=%d LOUPE_KILL_RUNS=%d", seed, runs)
	// The single-machine results the runs need, made here: the runs share
	// them (and the GPT-2), so they must outlive each run.
	refs := &faultRefs{t: t}
	for r := range runs {
		switch kind, ik := faultKind(seed + int64(r)); kind {
		case KindEmbed:
			refs.embed()
		case KindIndex:
			refs.index(faultIndexOptions(ik))
		case KindKNNLM:
			refs.knnlm()
		}
	}
	var total faultStats
	for r := range runs {
		s := seed + int64(r)
		if !t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			total.add(faultRun(t, s, refs))
		}) {
			t.Logf("replay the failed run: LOUPE_FAULT_SEED=%d LOUPE_KILL_RUNS=1 go test ./jobs -run TestRandomFaults -v", s)
		}
	}
	t.Logf("total: %s", total)
	if total.lost != 0 || total.duplicate != 0 {
		t.Errorf("%d tasks lost, %d duplicated", total.lost, total.duplicate)
	}
}

// faultRefs holds the inputs and single-machine outputs of the job kinds,
// made once for all runs by TestRandomFaults itself (t).
type faultRefs struct {
	t testing.TB

	embedRecs []embed.Record
	embedWant []byte

	indexInput string
	indexDocs  []embed.Record
	indexWant  map[index.Kind]string // single-machine index directories

	knnIDs  []int
	knnWant string // single-machine datastore directory
	gpt2    *generate.Pipeline
}

const (
	faultEmbedRows = 600 // embed: 60 tasks of 10 texts
	faultIndexDocs = 300 // index: 30 tasks of 10 documents
	faultKNNVerses = 30  // knnlm-datastore: about 12 tasks of 60 keys
	faultKNNWindow = 64
)

func (r *faultRefs) embed() ([]embed.Record, []byte) {
	if r.embedWant == nil {
		r.embedRecs = testRecords(r.t, faultEmbedRows)
		r.embedWant = singleMachine(r.t, r.embedRecs)
	}
	return r.embedRecs, r.embedWant
}

// index returns the index job's input file, its documents and the
// directory of the single-machine build with opts.
func (r *faultRefs) index(opts index.Options) (string, []embed.Record, string) {
	t := r.t
	if r.indexInput == "" {
		r.indexInput = versesFile(t, faultIndexDocs)
		docs, err := embed.ReadRecordsFile(r.indexInput, embed.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.indexDocs = docs
		r.indexWant = map[index.Kind]string{}
	}
	if r.indexWant[opts.Kind] == "" {
		dir := filepath.Join(t.TempDir(), "single.idx")
		_, _, done, err := search.Ingest(context.Background(), dir, search.Source{Input: r.indexInput}, true, search.Options{Model: defaults.Embed, Index: opts}, search.AddOptions{}, index.DirOptions{})
		if err != nil {
			t.Fatal(err)
		}
		done()
		r.indexWant[opts.Kind] = dir
	}
	return r.indexInput, r.indexDocs, r.indexWant[opts.Kind]
}

// knnlm returns the GPT-2, the token stream of the corpus and the
// single-machine datastore.
func (r *faultRefs) knnlm() (*generate.Pipeline, []int, string) {
	t := r.t
	if r.knnWant == "" {
		corpus := kjvCorpus(t, faultKNNVerses)
		r.gpt2 = loadGPT2(t)
		dir := filepath.Join(t.TempDir(), "single.knn")
		opt := knnlm.BuildOptions{Model: defaults.GPT2}
		opt.Window.MaxLength = faultKNNWindow
		if _, err := knnlm.BuildFiles(context.Background(), r.gpt2.Model, r.gpt2.Tokenizer, []string{corpus}, train.DocumentLines, dir, opt); err != nil {
			t.Fatal(err)
		}
		ids, err := knnlm.TokenizeCorpus(r.gpt2.Model, r.gpt2.Tokenizer, []string{corpus}, train.DocumentLines)
		if err != nil {
			t.Fatal(err)
		}
		r.knnIDs, r.knnWant = ids, dir
	}
	return r.gpt2, r.knnIDs, r.knnWant
}

// chaosProc is a worker process of a fault run.
type chaosProc struct {
	name string
	cmd  *exec.Cmd
	busy int // tasks started and not yet reported
	dead bool
}

// chaosLine is a line a worker process printed.
type chaosLine struct {
	p    *chaosProc
	text string
}

// faultKind is the kind of job of the run with seed: embed every other
// run, else index (flat or HNSW) or knnlm-datastore.
func faultKind(seed int64) (string, index.Kind) {
	return [...]string{KindEmbed, KindIndex, KindEmbed, KindKNNLM}[seed%4], [...]index.Kind{index.Flat, index.HNSW}[seed/4%2]
}

// faultIndexOptions are the options of an index job of kind k.
func faultIndexOptions(k index.Kind) index.Options {
	opts := index.DefaultOptions()
	opts.Kind = k
	opts.Threads = 1 // several build threads make HNSW's graph depend on timing, on one machine too
	return opts
}

// faultRun runs one job under the faults that seed plans and checks it.
// refs must hold the single-machine result it needs.
func faultRun(t *testing.T, seed int64, refs *faultRefs) faultStats {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x10ad))
	kind, indexKind := faultKind(seed)
	nodeLoss := seed%3 != 0
	workers := 2 + rng.IntN(2)
	kills := 1 + rng.IntN(3)
	t0 := time.Now()

	c := natstest.StartCluster(t, 3)
	url := c.AllURLs()
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := SubmitOptions{Config: Config{AckWait: chaosAckWait}, TaskSize: 10}
	var job *Job
	var check func(t *testing.T, st *Status)
	var err error
	switch kind {
	case KindEmbed:
		recs, want := refs.embed()
		out := filepath.Join(t.TempDir(), "out.npy")
		job, err = SubmitEmbed(ctx, js, recs, EmbedSpec{Output: out}, sub)
		check = func(t *testing.T, st *Status) {
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from the single-machine embed (%d vs %d bytes)", len(got), len(want))
			}
		}
	case KindIndex:
		opts := faultIndexOptions(indexKind)
		input, docs, single := refs.index(opts)
		out := filepath.Join(t.TempDir(), "jobs.idx")
		job, err = SubmitIndex(ctx, js, docs, IndexSpec{Input: input, Output: out, Options: opts}, sub)
		check = func(t *testing.T, st *Status) {
			got, err := os.ReadFile(filepath.Join(out, index.FileName))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(filepath.Join(single, index.FileName))
			if !bytes.Equal(got, want) {
				t.Errorf("%s index file differs from the single-machine build's (%d vs %d bytes)", opts.Kind, len(got), len(want))
			}
		}
	case KindKNNLM:
		p, ids, single := refs.knnlm()
		out := filepath.Join(t.TempDir(), "jobs.knn")
		sub.TaskSize = 60
		job, err = SubmitKNNLM(ctx, js, p.Model, p.Tokenizer, ids, KNNLMSpec{Output: out, Model: defaults.GPT2, MaxLength: faultKNNWindow}, sub)
		check = func(t *testing.T, st *Status) { sameDatastore(t, single, out) }
	}
	if err != nil {
		t.Fatal(err)
	}

	// The plan: kill the worker that starts the k-th task (for each k of
	// killAt) a random moment later (in the task, storing its output,
	// acknowledging it, or between tasks); lose a node after nodeAt tasks
	// are done and restart it nodeFor later.
	killAt := map[int]time.Duration{}
	for len(killAt) < kills {
		killAt[1+rng.IntN(job.Tasks*3/4)] = time.Duration(rng.IntN(60)) * time.Millisecond
	}
	nodeAt, node := -1, rng.IntN(3)
	nodeFor := time.Duration(200+rng.IntN(1300)) * time.Millisecond
	if nodeLoss {
		nodeAt = 1 + rng.IntN(job.Tasks/2)
	}
	loss := "no node lost"
	if nodeLoss {
		loss = fmt.Sprintf("node n%d lost after %d tasks done, for %v", node+1, nodeAt, nodeFor)
	}
	t.Logf("%s job of %d tasks, %d workers; kill the workers that start tasks %v; %s",
		kind, job.Tasks, workers, slices.Sorted(maps.Keys(killAt)), loss)

	lines := make(chan chaosLine, 100000)
	var procs []*chaosProc
	var readers sync.WaitGroup
	start := func() {
		p := &chaosProc{name: "w" + strconv.Itoa(len(procs))}
		p.cmd = exec.Command(os.Args[0], "-test.run=^$")
		p.cmd.Env = append(os.Environ(), chaosWorkerEnv+"="+url, chaosNameEnv+"="+p.name)
		p.cmd.Stderr = os.Stderr
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- chaosLine{p, sc.Text()}
			}
			lines <- chaosLine{p, "EXIT"}
		}()
	}
	kill := func(p *chaosProc) {
		if !p.dead {
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.cmd.Wait()
			p.dead = true
		}
	}
	defer func() {
		for _, p := range procs {
			kill(p)
		}
		readers.Wait()
	}()
	for range workers {
		start()
	}

	type waited struct {
		st  *Status
		err error
	}
	waitDone := make(chan waited, 1)
	wjs := connect(t, url)
	go func() {
		st, err := Wait(ctx, wjs, job.ID, WaitOptions{Progress: func(d, f, n int) {
			if os.Getenv("JOBS_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "%v wait %d %d %d\n", time.Since(t0).Round(time.Millisecond), d, f, n)
			}
		}})
		waitDone <- waited{st, err}
	}()

	var stats faultStats
	stats.runs, stats.tasks = 1, job.Tasks
	deliveries := map[int]int{} // highest delivery number seen per task
	computed := map[int]int{}   // done events per task
	starts, dones := 0, 0
	var lastDone time.Time
	type killOrder struct {
		p *chaosProc
	}
	killNow := make(chan killOrder, 16)
	var restart <-chan time.Time
	nodeDown := false
	handle := func(l chaosLine) {
		if os.Getenv("JOBS_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "%v %s %s\n", time.Since(t0).Round(time.Millisecond), l.p.name, l.text)
		}
		switch {
		case l.text == "EXIT":
			if !l.p.dead {
				t.Errorf("worker %s exited by itself (see its stderr)", l.p.name)
			}
		case strings.HasPrefix(l.text, "START "):
			starts++
			l.p.busy++
			if d, ok := killAt[starts]; ok {
				time.AfterFunc(d, func() { killNow <- killOrder{l.p} })
			}
		case strings.HasPrefix(l.text, "EVENT "):
			var ev TaskEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l.text, "EVENT ")), &ev); err != nil {
				t.Errorf("worker %s: %q: %v", l.p.name, l.text, err)
				return
			}
			if ev.Job != job.ID {
				return
			}
			deliveries[ev.Task] = max(deliveries[ev.Task], ev.Deliveries)
			switch ev.Outcome {
			case OutcomeDone:
				l.p.busy--
				computed[ev.Task]++
				dones++
				lastDone = time.Now()
			case OutcomeSkipped:
				stats.skipped++
			case OutcomeRetry:
				l.p.busy--
				if ev.Rows > 0 { // stored, not acknowledged
					computed[ev.Task]++
				}
				t.Logf("%v: worker %s: task %d delivery %d: retry: %s", time.Since(t0).Round(time.Millisecond), l.p.name, ev.Task, ev.Deliveries, ev.Error)
			case OutcomeFailed:
				l.p.busy = max(l.p.busy-1, 0)
				t.Errorf("worker %s: task %d failed: %s", l.p.name, ev.Task, ev.Error)
			}
			if dones == nodeAt && !nodeDown && stats.nodeLosses == 0 {
				c.Servers[node].Shutdown()
				nodeDown = true
				stats.nodeLosses++
				restart = time.After(nodeFor)
				t.Logf("%v: node n%d down", time.Since(t0).Round(time.Millisecond), node+1)
			}
		}
	}
	bringBack := func() {
		c.Restart(t, node)
		nodeDown, restart = false, nil
		t.Logf("%v: node n%d back", time.Since(t0).Round(time.Millisecond), node+1)
	}

	var res waited
loop:
	for {
		select {
		case l := <-lines:
			handle(l)
		case k := <-killNow:
			if k.p.dead {
				continue
			}
			stats.kills++
			if k.p.busy > 0 {
				stats.midTask++
			}
			t.Logf("%v: kill -9 worker %s (holding %d task(s)), start a replacement", time.Since(t0).Round(time.Millisecond), k.p.name, k.p.busy)
			kill(k.p)
			start()
		case <-restart:
			bringBack()
		case res = <-waitDone:
			break loop
		}
	}
	if res.err != nil {
		t.Fatalf("Wait: %v", res.err)
	}
	if !lastDone.IsZero() {
		stats.waitLag = time.Since(lastDone)
	}
	t.Logf("%v: waited", time.Since(t0).Round(time.Millisecond))
	if nodeDown {
		bringBack()
	}
	st := res.st
	if st.Done != job.Tasks || st.Failed != 0 || st.Written == "" {
		t.Errorf("status: %d of %d tasks done, %d failed, written %q", st.Done, job.Tasks, st.Failed, st.Written)
	}
	check(t, st)

	// No task left queued: a task whose worker was killed after it
	// recorded it done and before it acknowledged it is delivered again
	// (after AckWait) and acknowledged as done.
	tasks, err := js.Stream(ctx, TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4*chaosAckWait + 10*time.Second)
	for {
		info, err := tasks.Info(ctx, jetstream.WithSubjectFilter(taskSubject(job.ID)))
		if err == nil && info.State.Subjects[taskSubject(job.ID)] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("tasks still queued: %v", err)
			if err == nil {
				t.Errorf("%d task messages left", info.State.Subjects[taskSubject(job.ID)])
			}
			break
		}
		for drained := false; !drained; {
			select {
			case l := <-lines:
				handle(l)
			default:
				drained = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range procs {
		kill(p)
	}
	readers.Wait()
	for drained := false; !drained; {
		select {
		case l := <-lines:
			handle(l)
		default:
			drained = true
		}
	}

	// One output object and one done record per task, none failed, no
	// dead letter. (Listings come from a consumer that any replica may
	// serve: first let a restarted node catch up.)
	waitReplicasCurrent(t, ctx, js)
	objs, err := mustObjects(t, js).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, o := range objs {
		if strings.HasPrefix(o.Name, job.ID+"/") && o.Name != inputName(job.ID) {
			names[o.Name]++
		}
	}
	kv, err := js.KeyValue(ctx, JobsBucket)
	if err != nil {
		t.Fatal(err)
	}
	lister, err := kv.ListKeysFiltered(ctx, job.ID+".>")
	if err != nil {
		t.Fatal(err)
	}
	doneKeys, failedKeys := map[string]int{}, 0
	for k := range lister.Keys() {
		switch p := strings.Split(k, "."); {
		case len(p) == 3 && p[1] == "done":
			doneKeys[k]++
		case len(p) == 3 && p[1] == "failed":
			failedKeys++
		}
	}
	for n := range job.Tasks {
		if names[objectName(job.ID, n)] == 0 || doneKeys[doneKey(job.ID, n)] == 0 {
			stats.lost++
			t.Errorf("task %d: %d output objects, %d done records", n, names[objectName(job.ID, n)], doneKeys[doneKey(job.ID, n)])
		}
		delete(names, objectName(job.ID, n))
		delete(doneKeys, doneKey(job.ID, n))
	}
	// Whatever is left is a second object or record, or one of no task.
	stats.duplicate = len(names) + len(doneKeys)
	for name := range names {
		t.Errorf("output object %s of no task", name)
	}
	for k := range doneKeys {
		t.Errorf("done record %s of no task", k)
	}
	wantObjs := job.Tasks
	if kind != KindEmbed {
		wantObjs++ // the job's input
	}
	if len(objs) != wantObjs {
		t.Errorf("%d objects in %s, want %d task outputs (and an index or datastore job's input)", len(objs), OutputsBucket, job.Tasks)
		stats.duplicate++
	}
	if failedKeys != 0 {
		t.Errorf("%d failed records", failedKeys)
	}
	dead, err := js.Stream(ctx, DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	dinfo, err := dead.Info(ctx, jetstream.WithSubjectFilter(DeadSubject+".>"))
	if err != nil {
		t.Fatal(err)
	}
	if dinfo.State.Msgs != 0 {
		t.Errorf("%d dead letters", dinfo.State.Msgs)
	}

	for _, d := range deliveries {
		stats.redeliveries += d - 1
	}
	for _, n := range computed {
		if n > 1 {
			stats.recomputed++
		}
	}
	t.Logf("%v: %s", time.Since(t0).Round(time.Millisecond), stats)
	return stats
}

// waitReplicasCurrent waits until every replica of the jobs' streams is
// current.
func waitReplicasCurrent(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range []string{TasksStream, DeadStream, "KV_" + JobsBucket, "OBJ_" + OutputsBucket} {
		for {
			why := ""
			st, err := js.Stream(ctx, name)
			if err == nil {
				var info *jetstream.StreamInfo
				info, err = st.Info(ctx)
				if err == nil {
					switch c := info.Cluster; {
					case c == nil || c.Leader == "":
						why = "no leader"
					case len(c.Replicas) != info.Config.Replicas-1:
						why = fmt.Sprintf("%d followers of %d replicas", len(c.Replicas), info.Config.Replicas)
					default:
						for _, p := range c.Replicas {
							if !p.Current || p.Lag > 0 || p.Offline {
								why = fmt.Sprintf("replica %s behind (lag %d, offline %v)", p.Name, p.Lag, p.Offline)
							}
						}
					}
				}
			}
			if err == nil && why == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream %s: %v %s after 30s", name, err, why)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// flakyJS is a JetStream whose buckets answer the first puts with no
// responders, as the streams of buckets created a moment ago do until
// they have elected a leader, the first object reads with not found, as
// a replica that is catching up does, and that leaves the first stream
// lookups unanswered.
type flakyJS struct {
	jetstream.JetStream
	fails int // puts left to fail
	stale int // object reads left to miss
	lost  int // stream lookups left unanswered
}

// Stream leaves the first lookups unanswered, as the JetStream meta leader
// does when it changes while it is asked about a stream that does not
// exist yet.
func (j *flakyJS) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if j.lost > 0 {
		j.lost--
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return j.JetStream.Stream(ctx, name)
}

func (j *flakyJS) ObjectStore(ctx context.Context, b string) (jetstream.ObjectStore, error) {
	o, err := j.JetStream.ObjectStore(ctx, b)
	return &flakyObjects{o, j}, err
}

func (j *flakyJS) CreateObjectStore(ctx context.Context, c jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	o, err := j.JetStream.CreateObjectStore(ctx, c)
	return &flakyObjects{o, j}, err
}

func (j *flakyJS) KeyValue(ctx context.Context, b string) (jetstream.KeyValue, error) {
	kv, err := j.JetStream.KeyValue(ctx, b)
	return &flakyKV{kv, j}, err
}

func (j *flakyJS) CreateKeyValue(ctx context.Context, c jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := j.JetStream.CreateKeyValue(ctx, c)
	return &flakyKV{kv, j}, err
}

func (j *flakyJS) fail() bool {
	if j.fails > 0 {
		j.fails--
		return true
	}
	return false
}

type flakyObjects struct {
	jetstream.ObjectStore
	j *flakyJS
}

func (o *flakyObjects) PutBytes(ctx context.Context, name string, data []byte) (*jetstream.ObjectInfo, error) {
	if o.j.fail() {
		return nil, fmt.Errorf("nats: %w", nats.ErrNoResponders)
	}
	return o.ObjectStore.PutBytes(ctx, name, data)
}

func (o *flakyObjects) GetBytes(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) ([]byte, error) {
	if o.j.stale > 0 {
		o.j.stale--
		return nil, jetstream.ErrObjectNotFound
	}
	return o.ObjectStore.GetBytes(ctx, name, opts...)
}

type flakyKV struct {
	jetstream.KeyValue
	j *flakyJS
}

func (kv *flakyKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if kv.j.fail() {
		return 0, nats.ErrNoResponders
	}
	return kv.KeyValue.Create(ctx, key, value, opts...)
}

// TestSubmitWaitsForLeaders: the first job submitted to a fresh cluster
// stores its input and spec in buckets that open created a moment ago,
// whose streams answer no responders until they have a leader (this made
// TestRandomFaults fail on its first run now and then); Submit tries
// again instead of failing.
func TestSubmitWaitsForLeaders(t *testing.T) {
	_, url := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docs := testRecords(t, 20)
	for _, fails := range []int{1, 3} {
		js := &flakyJS{JetStream: connect(t, url), fails: fails}
		job, err := SubmitIndex(ctx, js, docs, IndexSpec{Output: filepath.Join(t.TempDir(), "x.idx")}, SubmitOptions{TaskSize: 10})
		if err != nil {
			t.Fatalf("%d failed puts: %v", fails, err)
		}
		if js.fails != 0 {
			t.Fatalf("%d puts were not tried", js.fails)
		}
		st, err := GetStatus(ctx, js.JetStream, job.ID)
		if err != nil || st.Pending != 2 {
			t.Fatalf("status %+v, %v", st, err)
		}
		if _, err := mustObjects(t, js.JetStream).GetInfo(ctx, inputName(job.ID)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWaitReadsBehindReplica: Wait reads each task's output once its done
// record is there; a read served by a replica that has not caught up yet
// (a node restarted a moment ago) does not find it. Wait tries again
// instead of failing (this made TestRandomFaults fail now and then).
func TestWaitReadsBehindReplica(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := testRecords(t, 30)
	out := filepath.Join(t.TempDir(), "out.npy")
	job, err := SubmitEmbed(ctx, js, recs, EmbedSpec{Output: out}, SubmitOptions{TaskSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	startWorkers(t, url, 1, Config{}, &events{})
	flaky := &flakyJS{JetStream: js, stale: 3}
	if _, err := Wait(ctx, flaky, job.ID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	if flaky.stale != 0 {
		t.Fatalf("%d reads not tried", flaky.stale)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, singleMachine(t, recs)) {
		t.Fatal("output differs from the single-machine embed")
	}
}

// TestSubmitAndWorkSurviveLostRequests: a stream lookup that goes
// unanswered (the meta leader changed) made Submit, and a worker that
// started then, hang until its context ended (TestRandomFaults: 90s);
// each try now has its own deadline, and both go on.
func TestSubmitAndWorkSurviveLostRequests(t *testing.T) {
	defer func(d time.Duration) { tryTimeout = d }(tryTimeout)
	tryTimeout = time.Second
	_, url := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs := testRecords(t, 20)
	out := filepath.Join(t.TempDir(), "out.npy")
	js := &flakyJS{JetStream: connect(t, url), lost: 1}
	job, err := SubmitEmbed(ctx, js, recs, EmbedSpec{Output: out}, SubmitOptions{TaskSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	wjs := &flakyJS{JetStream: connect(t, url), lost: 1}
	wctx, stop := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- Work(wctx, wjs, WorkerOptions{}) }()
	st, err := Wait(ctx, js.JetStream, job.ID, WaitOptions{})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-worked; err != nil {
		t.Fatal(err)
	}
	if js.lost != 0 || wjs.lost != 0 || st.Done != 2 {
		t.Fatalf("lookups left %d %d, status %+v", js.lost, wjs.lost, st)
	}
}

// TestWorkerWaitsForLaggingSpec: a worker that cannot find the spec of a
// task's job (read from a replica that has not caught up) keeps asking
// for specLagWait instead of dead-lettering the task at once; a spec that
// never comes is reported as gone.
func TestWorkerWaitsForLaggingSpec(t *testing.T) {
	defer func(d time.Duration) { specLagWait = d }(specLagWait)
	specLagWait = 3 * time.Second
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := open(ctx, js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{s: s, jobs: map[string]*Job{}}

	late := &Job{ID: newID(), Kind: KindEmbed, Embed: &EmbedSpec{Output: "x.npy", Model: defaults.Embed}, Rows: 1, Tasks: 1}
	go func() {
		time.Sleep(500 * time.Millisecond)
		b, _ := json.Marshal(late)
		s.kv.Put(ctx, specKey(late.ID), b)
	}()
	got, err := w.job(ctx, late.ID)
	if err != nil || got.ID != late.ID {
		t.Fatalf("a spec stored 0.5 s late: %+v, %v", got, err)
	}

	start := time.Now()
	_, err = w.job(ctx, newID())
	if err == nil || !strings.Contains(err.Error(), "spec is gone") {
		t.Fatalf("a spec that never comes: %v", err)
	}
	if d := time.Since(start); d < specLagWait {
		t.Fatalf("gave up after %v, before specLagWait %v", d, specLagWait)
	}
}
