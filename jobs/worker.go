package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/generate"
)

// WorkerOptions control Work. The zero value is ready to use.
type WorkerOptions struct {
	// Config creates the streams and the consumer when they are missing.
	Config
	// Concurrency is how many tasks the worker runs at once (default 1),
	// each with its own copy of the model.
	Concurrency int
	// Name names this worker in task records (default: none).
	Name string
	// Embed are the base options of the embedding models loaded (Client,
	// Warn); the job's spec sets BatchSize, MaxSeqLength and Quantize.
	// GPT-2 models (knnlm-datastore and explain jobs) are loaded with its
	// Client.
	Embed embed.Options
	// OnTask, when set, is called after each task the worker handles
	// (from several goroutines when Concurrency > 1).
	OnTask func(TaskEvent)
	// storeTimeout bounds each attempt to store a result (tests shorten it).
	storeTimeout time.Duration
	// taskHook, when set, is called before a task runs (tests hang there).
	taskHook func(job string, task int)
}

// Outcomes of a TaskEvent.
const (
	OutcomeDone    = "done"    // output stored, task acknowledged
	OutcomeSkipped = "skipped" // already done (a redelivery), acknowledged
	OutcomeRetry   = "retry"   // failed, will be delivered again
	OutcomeFailed  = "failed"  // failed for the last time, dead-lettered
)

// TaskEvent reports one task a worker handled.
type TaskEvent struct {
	Job        string  `json:"job"`
	Task       int     `json:"task"`
	Outcome    string  `json:"outcome"`
	Rows       int     `json:"rows,omitempty"`
	Deliveries int     `json:"deliveries"`
	Seconds    float64 `json:"seconds"`
	Error      string  `json:"error,omitempty"`
}

// Work takes tasks from the work queue and runs them until ctx ends; then
// it finishes (stores and acknowledges) the tasks it holds and returns nil.
// It returns an error only when it cannot start (the streams or the
// consumer cannot be reached or created).
func Work(ctx context.Context, js jetstream.JetStream, opts WorkerOptions) error {
	if opts.Concurrency < 0 {
		return fmt.Errorf("jobs: concurrency %d: want 1 or more (0: 1)", opts.Concurrency)
	}
	s, err := open(ctx, js, opts.Config)
	if err != nil {
		return startError(ctx, err)
	}
	cons, err := ensureConsumer(ctx, js, opts.Config)
	if err != nil {
		return startError(ctx, err)
	}
	ackWait := cons.CachedInfo().Config.AckWait
	n := max(opts.Concurrency, 1)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{s: s, opts: opts, ackWait: ackWait, jobs: map[string]*Job{}, models: map[string]*embed.Model{}, gpt2s: map[string]*generate.Pipeline{}}
			defer w.close()
			w.loop(ctx, cons)
		}()
	}
	wg.Wait()
	return nil
}

// startError is Work's error when it could not start: none when ctx ended
// (the worker was stopped while it started).
func startError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ensureConsumer returns the durable worker consumer, creating it with c
// when it does not exist (trying again while the cluster elects a leader,
// as open does).
func ensureConsumer(ctx context.Context, js jetstream.JetStream, c Config) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		cons, err = ensureConsumerOnce(ctx, js, c)
		return err
	})
	return cons, err
}

// ensureConsumerOnce is one try of ensureConsumer.
func ensureConsumerOnce(ctx context.Context, js jetstream.JetStream, c Config) (jetstream.Consumer, error) {
	cons, err := js.Consumer(ctx, TasksStream, WorkerConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = js.CreateConsumer(ctx, TasksStream, jetstream.ConsumerConfig{
			Durable: WorkerConsumer, Description: "loupe workers",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.ackWait(),
			// Deliveries are counted by the workers (the job's MaxDeliver), which
			// dead-letter a task with its error instead of letting it stall.
			MaxDeliver: -1, MaxAckPending: 10000, MaxWaiting: 4096,
			FilterSubject: TasksSubject + ".>",
		})
		if errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = js.Consumer(ctx, TasksStream, WorkerConsumer)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: consumer %s on %s: %w", WorkerConsumer, TasksStream, err)
	}
	return cons, nil
}

// worker is one of Work's goroutines, with its own model cache.
type worker struct {
	s       *store
	opts    WorkerOptions
	ackWait time.Duration
	jobs    map[string]*Job
	models  map[string]*embed.Model
	gpt2s   map[string]*generate.Pipeline
}

func (w *worker) close() {
	for _, m := range w.models {
		m.Close()
	}
	for _, p := range w.gpt2s {
		p.Close()
	}
}

// loop fetches one task at a time until ctx ends.
func (w *worker) loop(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			sleep(ctx, 250*time.Millisecond) // the server is away: try again
			continue
		}
		for msg := range batch.Messages() {
			w.handle(msg)
		}
	}
}

// handle runs one task message to its end: done, retry or failed.
func (w *worker) handle(msg jetstream.Msg) {
	start := time.Now()
	meta, err := msg.Metadata()
	if err != nil {
		msg.Term()
		return
	}
	deliveries := int(meta.NumDelivered)
	jobID := msg.Headers().Get(headerJob)
	n, nerr := strconv.Atoi(msg.Headers().Get(headerTask))
	if !validID(jobID) || nerr != nil {
		msg.TermWithReason("not a loupe task message")
		return
	}
	ev := TaskEvent{Job: jobID, Task: n, Deliveries: deliveries}
	report := func(outcome string, rows int, err error) {
		if w.opts.OnTask == nil {
			return
		}
		ev.Outcome, ev.Rows, ev.Seconds = outcome, rows, time.Since(start).Seconds()
		if err != nil {
			ev.Error = err.Error()
		}
		w.opts.OnTask(ev)
	}
	ctx := context.Background() // a stopping worker still finishes its task
	job, err := w.job(ctx, jobID)
	if err != nil {
		w.fail(ctx, msg, TaskError{Job: jobID, Task: n, Deliveries: deliveries, Error: err.Error()})
		report(OutcomeFailed, 0, err)
		return
	}
	t, err := decodeTask(msg.Data(), jobID, n)
	if err != nil {
		w.fail(ctx, msg, TaskError{Job: jobID, Task: n, Deliveries: deliveries, Error: err.Error()})
		report(OutcomeFailed, 0, err)
		return
	}
	te := TaskError{Job: jobID, Task: n, Lines: t.Lines, Deliveries: deliveries}
	if _, err := w.s.kv.Get(ctx, doneKey(jobID, n)); err == nil {
		msg.DoubleAck(ctx) // a redelivery of a task whose output is stored
		report(OutcomeSkipped, len(t.Texts), nil)
		return
	}
	if deliveries > job.MaxDeliver {
		last := "none recorded"
		if e, err := w.s.kv.Get(ctx, errKey(jobID, n)); err == nil {
			last = string(e.Value())
		}
		te.Error = fmt.Sprintf("delivered %d time(s) and no worker finished it (workers died or timed out; last error: %s)", deliveries-1, last)
		w.fail(ctx, msg, te)
		report(OutcomeFailed, 0, errors.New(te.Error))
		return
	}

	stop := w.progress(msg)
	if w.opts.taskHook != nil {
		w.opts.taskHook(jobID, n)
	}
	rows, err := w.run(ctx, job, t)
	stop()
	if err == nil {
		err = msg.DoubleAck(ctx)
		if err == nil {
			report(OutcomeDone, rows, nil)
			return
		}
		// The output is stored; a redelivery will find it done.
		report(OutcomeRetry, rows, fmt.Errorf("acknowledge: %w", err))
		return
	}
	te.Error = err.Error()
	if deliveries >= job.MaxDeliver {
		w.fail(ctx, msg, te)
		report(OutcomeFailed, 0, err)
		return
	}
	w.retryStore(ctx, func(ctx context.Context) error {
		_, err := w.s.kv.Put(ctx, errKey(jobID, n), []byte(te.Error))
		return err
	})
	msg.NakWithDelay(backoff(deliveries))
	report(OutcomeRetry, 0, err)
}

// decodeTask reads the body of a task message whose headers say it is
// task n of job.
func decodeTask(b []byte, job string, n int) (*task, error) {
	var t task
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("task message: %w", err)
	}
	if t.Job != job || t.Task != n {
		return nil, fmt.Errorf("task message: its body is task %d of job %q, its headers task %d of job %s", t.Task, t.Job, n, job)
	}
	if t.First < 0 || len(t.Texts) == 0 && len(t.Tokens) == 0 {
		return nil, fmt.Errorf("task message: %d texts and %d tokens from row %d", len(t.Texts), len(t.Tokens), t.First)
	}
	return &t, nil
}

// backoff is the delay before the next delivery of a task that failed on
// its delivery-th delivery: 0.5s, 1s, 2s, … up to 30s.
func backoff(delivery int) time.Duration {
	d := 500 * time.Millisecond << min(delivery-1, 6)
	return min(d, 30*time.Second)
}

// progress reports msg in progress every ackWait/3 until the returned
// function is called.
func (w *worker) progress(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	every := max(w.ackWait/3, 100*time.Millisecond)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// run computes task t of job, stores its output and records it done.
func (w *worker) run(ctx context.Context, job *Job, t *task) (int, error) {
	var data []byte
	var rows, dim int
	var err error
	switch {
	case (job.Kind == KindEmbed || job.Kind == KindIndex) && job.Embed != nil:
		data, rows, dim, err = w.embedTexts(ctx, job, t)
	case job.Kind == KindKNNLM && job.KNNLM != nil:
		data, rows, dim, err = w.knnlmKeys(ctx, job, t)
	case job.Kind == KindExplain && job.Explain != nil:
		data, rows, err = w.explainPrompts(ctx, job, t)
	default:
		return 0, fmt.Errorf("job kind %q: this worker runs %s, %s, %s and %s jobs", job.Kind, KindEmbed, KindIndex, KindKNNLM, KindExplain)
	}
	if err != nil {
		return 0, err
	}
	if t.First+rows > job.Rows {
		return 0, fmt.Errorf("task holds rows %d-%d of a %d-row job", t.First, t.First+rows-1, job.Rows)
	}
	name := objectName(job.ID, t.Task)
	if err := w.retryStore(ctx, func(ctx context.Context) error {
		_, err := w.s.objects.PutBytes(ctx, name, data)
		return err
	}); err != nil {
		return 0, fmt.Errorf("store output %s: %w", name, err)
	}
	rec, _ := json.Marshal(taskDone{First: t.First, Rows: rows, Dim: dim, Worker: w.opts.Name})
	if err := w.retryStore(ctx, func(ctx context.Context) error {
		_, err := w.s.kv.Put(ctx, doneKey(job.ID, t.Task), rec)
		return err
	}); err != nil {
		return 0, fmt.Errorf("record task done: %w", err)
	}
	return rows, nil
}

// embedTexts embeds the texts of task t of an embed or index job: rows of
// dim float32s, little-endian.
func (w *worker) embedTexts(ctx context.Context, job *Job, t *task) ([]byte, int, int, error) {
	if t.First < 0 || t.First+len(t.Texts) > job.Rows {
		return nil, 0, 0, fmt.Errorf("task holds rows %d-%d of a %d-row job", t.First, t.First+len(t.Texts)-1, job.Rows)
	}
	if err := embed.CheckUTF8(t.Texts); err != nil {
		return nil, 0, 0, err
	}
	m, err := w.model(ctx, job.Embed)
	if err != nil {
		return nil, 0, 0, err
	}
	vecs, err := m.Embed(t.Texts)
	if err != nil {
		return nil, 0, 0, err
	}
	dim := m.Dim()
	if len(vecs) != len(t.Texts) {
		return nil, 0, 0, fmt.Errorf("embed: %d vectors for %d texts", len(vecs), len(t.Texts))
	}
	data := make([]byte, 0, len(vecs)*dim*4)
	for i, v := range vecs {
		if len(v) != dim {
			return nil, 0, 0, fmt.Errorf("embed: vector %d has %d values, want %d", i, len(v), dim)
		}
		for _, x := range v {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(x))
		}
	}
	return data, len(vecs), dim, nil
}

// fail dead-letters a task: its error goes to the dead-letter subject and
// under JOB.failed.N, and the message is terminated.
func (w *worker) fail(ctx context.Context, msg jetstream.Msg, te TaskError) {
	b, _ := json.Marshal(te)
	id := te.Job + "." + strconv.Itoa(te.Task) + ".dead"
	err := w.retryStore(ctx, func(ctx context.Context) error {
		if _, err := w.s.js.Publish(ctx, deadSubject(te.Job), b, jetstream.WithMsgID(id)); err != nil {
			return err
		}
		_, err := w.s.kv.Put(ctx, failedKey(te.Job, te.Task), b)
		return err
	})
	if err != nil {
		// Not recorded: leave the task to be delivered again.
		msg.NakWithDelay(backoff(te.Deliveries))
		return
	}
	msg.TermWithReason(truncate(te.Error, 200))
}

// retryStore runs fn until it succeeds, for up to a minute: a store
// operation fails for a few seconds while a NATS node is lost and its
// streams elect a new leader.
func (w *worker) retryStore(ctx context.Context, fn func(ctx context.Context) error) error {
	per := w.opts.storeTimeout
	if per <= 0 {
		per = 10 * time.Second
	}
	deadline := time.Now().Add(6 * per)
	for {
		c, cancel := context.WithTimeout(ctx, per)
		err := fn(c)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// specLagWait is how long a worker keeps asking for a job's spec it
// cannot find before it takes the job for deleted.
var specLagWait = 5 * time.Second

// job returns the spec of job id (cached).
func (w *worker) job(ctx context.Context, id string) (*Job, error) {
	if j := w.jobs[id]; j != nil {
		return j, nil
	}
	var j *Job
	start := time.Now()
	err := w.retryStore(ctx, func(ctx context.Context) error {
		var err error
		j, err = w.s.getJob(ctx, id)
		if err != nil && strings.Contains(err.Error(), "no job") {
			// A job's spec is stored before its tasks are published, so
			// a missing spec is first taken for a replica that has not
			// caught up (a node just restarted); only when it stays
			// missing was the job deleted.
			if time.Since(start) < specLagWait {
				return err
			}
			j = nil
			return nil
		}
		return err
	})
	if err == nil && j == nil {
		err = fmt.Errorf("no job %s (its spec is gone)", id)
	}
	if err != nil {
		return nil, err
	}
	w.jobs[id] = j
	return j, nil
}

// model returns the model of spec (cached: a worker keeps the models of
// the jobs it has run).
func (w *worker) model(ctx context.Context, spec *EmbedSpec) (*embed.Model, error) {
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%s", spec.Model, spec.BatchSize, spec.MaxSeqLength, spec.Quantize)
	if m := w.models[key]; m != nil {
		return m, nil
	}
	opts := w.opts.Embed
	opts.BatchSize, opts.MaxSeqLength, opts.Quantize = spec.BatchSize, spec.MaxSeqLength, spec.Quantize
	opts.Progress = nil
	m, err := embed.LoadWith(ctx, spec.Model, opts)
	if err != nil {
		return nil, err
	}
	w.models[key] = m
	return m, nil
}

// pipeline returns the GPT-2 pipeline of model with weights quantize
// (cached, as models).
func (w *worker) pipeline(ctx context.Context, model, quantize string) (*generate.Pipeline, error) {
	key := model + "\x00" + quantize
	if p := w.gpt2s[key]; p != nil {
		return p, nil
	}
	p, err := generate.Load(ctx, model, generate.LoadOptions{Hub: w.opts.Embed.Client, Quantize: quantize})
	if err != nil {
		return nil, err
	}
	w.gpt2s[key] = p
	return p, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
