package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	"github.com/loupe-ml/loupe/internal/natstest"
	"github.com/loupe-ml/loupe/natsconn"
)

// A test binary started with workerEnv set to a NATS URL is a worker that
// announces each task on stdout ("TASK job n") and then hangs in it, to be
// killed with SIGKILL while it holds the task.
const workerEnv = "LOUPE_JOBS_TEST_WORKER"

func TestMain(m *testing.M) {
	if url := os.Getenv(workerEnv); url != "" {
		os.Exit(hangingWorker(url))
	}
	if url := os.Getenv(chaosWorkerEnv); url != "" {
		os.Exit(chaosWorker(url))
	}
	os.Exit(m.Run())
}

func hangingWorker(url string) int {
	ctx := context.Background()
	nc, js, err := natsconn.ConnectJetStream(ctx, natsconn.Options{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	opts := WorkerOptions{Config: Config{AckWait: 1500 * time.Millisecond}, taskHook: func(job string, n int) {
		fmt.Printf("TASK %s %d\n", job, n)
		time.Sleep(time.Hour)
	}}
	if err := Work(ctx, js, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// testRecords are the first n KJV verses.
func testRecords(t testing.TB, n int) []embed.Record {
	t.Helper()
	recs, err := embed.ReadRecordsFile(filepath.Join("..", "defaults", "kjv", "verses.jsonl.gz"), embed.ReadOptions{KeepBlank: true})
	if err != nil {
		t.Fatal(err)
	}
	return recs[:n]
}

// singleMachine writes what `loupe embed --input … --output X.npy` writes
// for recs and returns its bytes.
func singleMachine(t testing.TB, recs []embed.Record) []byte {
	t.Helper()
	return singleMachineModel(t, recs, defaults.Embed)
}

// singleMachineModel is singleMachine with model.
func singleMachineModel(t testing.TB, recs []embed.Record, model string) []byte {
	t.Helper()
	m, err := embed.Load(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vecs, err := m.Embed(embed.Texts(recs))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "single.npy")
	if err := embed.WriteVectors(path, recs, vecs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, js, err := natsconn.ConnectJetStream(context.Background(), natsconn.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// events collects the TaskEvents of workers.
type events struct {
	mu  sync.Mutex
	all []TaskEvent
}

func (e *events) add(ev TaskEvent) {
	if os.Getenv("JOBS_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "%s %+v\n", time.Now().Format("05.000"), ev)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(outcome string) map[int]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := map[int]int{}
	for _, ev := range e.all {
		if ev.Outcome == outcome {
			c[ev.Task]++
		}
	}
	return c
}

// startWorkers runs n in-process workers until the test ends.
func startWorkers(t testing.TB, url string, n int, cfg Config, ev *events) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		js := connect(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Work(ctx, js, WorkerOptions{Config: cfg, Name: "w" + strconv.Itoa(i), OnTask: ev.add, storeTimeout: 2 * time.Second})
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestClusterJobSurvivesKills runs an embed job on a 3-node JetStream
// cluster with R3 streams: a worker process is killed with SIGKILL while it
// holds a task, and one NATS node is shut down during the job. The output
// must be byte for byte what one machine's embed writes, with one object
// per task.
func TestClusterJobSurvivesKills(t *testing.T) {
	recs := testRecords(t, 600)
	want := singleMachine(t, recs)
	t0 := time.Now()
	c := natstest.StartCluster(t, 3)
	t.Logf("cluster up in %v", time.Since(t0))
	url := c.URL()
	cfg := Config{AckWait: 1500 * time.Millisecond} // replicas: auto, 3 here
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out.npy")
	job, err := SubmitEmbed(ctx, js, recs, EmbedSpec{Output: out}, SubmitOptions{Config: cfg, TaskSize: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted at %v", time.Since(t0))
	for _, name := range []string{TasksStream, DeadStream, "KV_" + JobsBucket, "OBJ_" + OutputsBucket} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("stream %s has %d replicas, want 3", name, r)
		}
	}
	if job.Tasks != 15 {
		t.Fatalf("tasks = %d, want 15", job.Tasks)
	}

	// The worker process takes the first task and is killed holding it.
	killedTask := killWorkerMidTask(t, url, job.ID)

	ev := &events{}
	startWorkers(t, url, 3, cfg, ev)
	// Lose one NATS node (not the one every client knows first) once work
	// is under way.
	for len(ev.count(OutcomeDone)) < 3 {
		if ctx.Err() != nil {
			t.Fatal("workers did not finish 3 tasks in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("killed worker, 3 tasks done at %v", time.Since(t0))
	c.Servers[2].Shutdown()
	t.Logf("node down at %v", time.Since(t0))

	wjs := connect(t, c.URL())
	t.Logf("connected at %v", time.Since(t0))
	st, err := Wait(ctx, wjs, job.ID, WaitOptions{Progress: func(d, f, n int) {
		if os.Getenv("JOBS_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "%s wait %d %d %d\n", time.Now().Format("05.000"), d, f, n)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("waited at %v", time.Since(t0))
	if st.Done != job.Tasks || st.Failed != 0 || st.Written != out {
		t.Fatalf("status %+v", st)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from the single-machine embed (%d vs %d bytes)", len(got), len(want))
	}
	done := ev.count(OutcomeDone)
	if done[killedTask] == 0 {
		t.Errorf("the killed worker's task %d was never done by another worker (events %v)", killedTask, ev.all)
	}
	var objects int
	lister, err := mustObjects(t, js).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range lister {
		if strings.HasPrefix(o.Name, job.ID+"/") {
			objects++
		}
	}
	if objects != job.Tasks {
		t.Errorf("%d output objects, want %d", objects, job.Tasks)
	}
}

// killWorkerMidTask starts a worker process (a re-exec of the test binary),
// waits until it holds a task of job, kills it with SIGKILL and returns the
// task.
func killWorkerMidTask(t *testing.T, url, job string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+url)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("worker process: %v", err)
	}
	var killedJob string
	var killedTask int
	if _, err := fmt.Sscanf(line, "TASK %s %d", &killedJob, &killedTask); err != nil || killedJob != job {
		cmd.Process.Kill()
		t.Fatalf("worker process said %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return killedTask
}

// TestCrashLoopIsDeadLettered: a task whose workers keep dying is
// dead-lettered on the delivery after MaxDeliver, saying so.
func TestCrashLoopIsDeadLettered(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{AckWait: 1500 * time.Millisecond}
	job, err := SubmitEmbed(ctx, js, testRecords(t, 5), EmbedSpec{Output: filepath.Join(t.TempDir(), "out.npy")}, SubmitOptions{Config: cfg, MaxDeliver: 1})
	if err != nil {
		t.Fatal(err)
	}
	killWorkerMidTask(t, url, job.ID)
	startWorkers(t, url, 1, cfg, &events{})
	_, err = Wait(ctx, js, job.ID, WaitOptions{})
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failures) != 1 {
		t.Fatalf("Wait: %v, want one failed task", err)
	}
	if f := fe.Failures[0]; f.Deliveries != 2 || !strings.Contains(f.Error, "delivered 1 time(s) and no worker finished it") {
		t.Errorf("failure %+v", f)
	}
}

func mustObjects(t testing.TB, js jetstream.JetStream) jetstream.ObjectStore {
	t.Helper()
	o, err := js.ObjectStore(context.Background(), OutputsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestFailingTaskIsDeadLettered: a job whose task 1 carries a corrupt
// message and whose task 2 claims rows past the job's end ends with those
// two tasks failed after MaxDeliver deliveries, each on the dead-letter
// subject with its error; Wait names them and writes nothing.
func TestFailingTaskIsDeadLettered(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := open(ctx, js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(t, 30)
	out := filepath.Join(t.TempDir(), "out.npy")
	job := &Job{ID: newID(), Kind: KindEmbed, Embed: &EmbedSpec{Output: out, Model: defaults.Embed}, Rows: 30, Tasks: 3, MaxDeliver: 2}
	b, _ := json.Marshal(job)
	if _, err := s.kv.Create(ctx, specKey(job.ID), b); err != nil {
		t.Fatal(err)
	}
	tasks, err := splitTasks(job.ID, recs, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	tasks[1] = []byte(`{"job": "` + job.ID + `", "task": 1, "texts": [`) // cut short
	tasks[2] = bytes.Replace(tasks[2], []byte(`"first":20`), []byte(`"first":25`), 1)
	if err := publishTasks(ctx, js, job.ID, tasks); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	startWorkers(t, url, 2, Config{}, ev)

	_, err = Wait(ctx, js, job.ID, WaitOptions{})
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Wait: %v, want a *FailedError", err)
	}
	if len(fe.Failures) != 2 || fe.Failures[0].Task != 1 || fe.Failures[1].Task != 2 {
		t.Fatalf("failures %+v, want tasks 1 and 2", fe.Failures)
	}
	for _, c := range []struct {
		task  int
		words string
	}{{1, "task message"}, {2, "rows 25-34 of a 30-row job"}} {
		f := fe.Failures[c.task-1]
		if !strings.Contains(f.Error, c.words) {
			t.Errorf("task %d error %q does not say %q", c.task, f.Error, c.words)
		}
	}
	if fe.Failures[1].Deliveries != 2 || fe.Failures[1].Lines != [2]int{21, 30} {
		t.Errorf("task 2: %+v, want 2 deliveries of lines 21-30", fe.Failures[1])
	}
	if !strings.Contains(err.Error(), "task 2 (input lines 21-30") {
		t.Errorf("error %q does not name task 2 and its lines", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written for a failed job: %v", err)
	}
	// The dead letters.
	cons, err := js.OrderedConsumer(ctx, DeadStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{deadSubject(job.ID)}})
	if err != nil {
		t.Fatal(err)
	}
	dead := map[int]TaskError{}
	for len(dead) < 2 {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("dead letters: %v (have %v)", err, dead)
		}
		var te TaskError
		if err := json.Unmarshal(msg.Data(), &te); err != nil {
			t.Fatal(err)
		}
		dead[te.Task] = te
	}
	if !strings.Contains(dead[2].Error, "30-row job") || !strings.Contains(dead[1].Error, "task message") {
		t.Errorf("dead letters %+v", dead)
	}
	st, err := GetStatus(ctx, js, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != 1 || st.Failed != 2 || st.Pending != 0 {
		t.Errorf("status %+v, want 1 done, 2 failed", st)
	}
}

// TestWorkerStopsCleanly: a worker whose context ends returns; a job
// submitted later is done by another worker.
func TestWorkerStopsCleanly(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Work(ctx, js, WorkerOptions{}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not stop within 5s")
	}
	recs := testRecords(t, 20)
	out := filepath.Join(t.TempDir(), "out.npy")
	job, err := SubmitEmbed(context.Background(), js, recs, EmbedSpec{Output: out}, SubmitOptions{TaskSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	startWorkers(t, url, 1, Config{}, &events{})
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if _, err := Wait(wctx, js, job.ID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, singleMachine(t, recs)) {
		t.Fatal("output differs from the single-machine embed")
	}
}

// TestBERTJobMatchesEmbed: with a BERT model (the small test
// sentence-transformers model), whose Embed sorts a call's texts by length
// into batches, tasks that cut the input at other places than the batches
// still give the bytes of one Embed over the whole input.
func TestBERTJobMatchesEmbed(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	model, err := filepath.Abs(filepath.Join("..", "embed", "testdata", "st"))
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(t, 200)
	out := filepath.Join(t.TempDir(), "out.npy")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, err := SubmitEmbed(ctx, js, recs, EmbedSpec{Output: out, Model: model, BatchSize: 8}, SubmitOptions{TaskSize: 13})
	if err != nil {
		t.Fatal(err)
	}
	startWorkers(t, url, 2, Config{}, &events{})
	if _, err := Wait(ctx, js, job.ID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	m, err := embed.LoadWith(ctx, model, embed.Options{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vecs, err := m.Embed(embed.Texts(recs))
	if err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(t.TempDir(), "single.npy")
	if err := embed.WriteVectors(single, recs, vecs); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(single)
	if !bytes.Equal(got, want) {
		t.Fatalf("BERT job output (%d bytes) differs from one Embed (%d bytes)", len(got), len(want))
	}
}

// TestSubmitErrors: bad arguments are refused before anything is queued.
func TestSubmitErrors(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	recs := testRecords(t, 3)
	for _, c := range []struct {
		name string
		recs []embed.Record
		spec EmbedSpec
		opts SubmitOptions
		want string
	}{
		{"not npy", recs, EmbedSpec{Output: "x.jsonl"}, SubmitOptions{}, "want a FILE.npy"},
		{"no texts", nil, EmbedSpec{Output: "x.npy"}, SubmitOptions{}, "no texts"},
		{"task size", recs, EmbedSpec{Output: "x.npy"}, SubmitOptions{TaskSize: -1}, "task size -1"},
		{"quantize", recs, EmbedSpec{Output: "x.npy", Quantize: "int4"}, SubmitOptions{}, "Quantize"},
	} {
		_, err := SubmitEmbed(context.Background(), js, c.recs, c.spec, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := GetStatus(context.Background(), js, "nosuchjob"); err == nil || !strings.Contains(err.Error(), "no job nosuchjob") {
		t.Errorf("status of a missing job: %v", err)
	}
}

// TestSplitTasksPayload: tasks are cut to fit the message size limit, and
// a text that cannot fit is named by its line.
func TestSplitTasksPayload(t *testing.T) {
	recs := testRecords(t, 50)
	tasks, err := splitTasks("j", recs, 50, 2000)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for i, b := range tasks {
		if len(b) > 2000 {
			t.Errorf("task %d is %d bytes", i, len(b))
		}
		var tk task
		json.Unmarshal(b, &tk)
		if tk.First != rows || tk.Task != i {
			t.Errorf("task %d starts at %d, want %d", i, tk.First, rows)
		}
		rows += len(tk.Texts)
	}
	if rows != 50 || len(tasks) < 2 {
		t.Errorf("%d rows in %d tasks", rows, len(tasks))
	}
	big := []embed.Record{{Text: strings.Repeat("x", 5000), Line: 7}}
	if _, err := splitTasks("j", big, 10, 2000); err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Errorf("oversized text: %v", err)
	}
}

var _ = nats.DefaultURL

// TestDelete: a deleted job leaves no queued task, output chunk, dead
// letter or key behind, and is gone for GetStatus.
func TestDelete(t *testing.T) {
	_, url := natstest.Start(t)
	js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := testRecords(t, 30)
	done, err := SubmitEmbed(ctx, js, recs, EmbedSpec{Output: filepath.Join(t.TempDir(), "a.npy")}, SubmitOptions{TaskSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	worked := make(chan error)
	go func() { worked <- Work(wctx, js, WorkerOptions{}) }()
	if _, err := Wait(ctx, js, done.ID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	stop()
	<-worked
	queued, err := SubmitEmbed(ctx, js, recs, EmbedSpec{Output: filepath.Join(t.TempDir(), "b.npy")}, SubmitOptions{TaskSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{done.ID, queued.ID} {
		if err := Delete(ctx, js, id); err != nil {
			t.Fatal(err)
		}
		if _, err := GetStatus(ctx, js, id); err == nil || !strings.Contains(err.Error(), "no job") {
			t.Errorf("status of deleted job %s: %v", id, err)
		}
	}
	tasks, _ := js.Stream(ctx, TasksStream)
	info, err := tasks.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d task messages left", info.State.Msgs)
	}
	objs, err := mustObjects(t, js).List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Fatal(err)
	}
	if len(objs) != 0 {
		t.Errorf("%d output objects left", len(objs))
	}
	kv, _ := js.KeyValue(ctx, JobsBucket)
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range lister.Keys() {
		t.Errorf("key %s left", k)
	}
}
