package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/npy"
)

// Status is the progress of a job.
type Status struct {
	Job *Job `json:"job"`
	// Done, Failed and Pending count the job's tasks (Pending: queued or
	// running, retries included).
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Pending int `json:"pending"`
	// Failures are the failed tasks, in task order.
	Failures []TaskError `json:"failures,omitempty"`
	// Written is the output file, once Wait has written it.
	Written string `json:"written,omitempty"`
}

// FailedError is Wait's error when tasks of the job failed.
type FailedError struct {
	Job      string
	Tasks    int
	Failures []TaskError
}

func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jobs: job %s: %d of %d tasks failed", e.Job, len(e.Failures), e.Tasks)
	for i, f := range e.Failures {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failures)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(f.String())
	}
	return b.String()
}

// openExisting returns the handles of an existing set-up (no job can exist
// without it).
func openExisting(ctx context.Context, js jetstream.JetStream, id string) (*store, error) {
	kv, err := js.KeyValue(ctx, JobsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("jobs: no job %s (no job was ever submitted to this NATS server)", id)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: key-value bucket %s: %w", JobsBucket, err)
	}
	obj, err := js.ObjectStore(ctx, OutputsBucket)
	if err != nil {
		return nil, fmt.Errorf("jobs: object store %s: %w", OutputsBucket, err)
	}
	return &store{js: js, kv: kv, objects: obj}, nil
}

// GetStatus returns the progress of job id.
func GetStatus(ctx context.Context, js jetstream.JetStream, id string) (*Status, error) {
	s, err := openExisting(ctx, js, id)
	if err != nil {
		return nil, err
	}
	job, err := s.getJob(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &tally{job: job, done: map[int]taskDone{}, failed: map[int]TaskError{}}
	// One filter: servers before 2.10 take no more.
	lister, err := s.kv.ListKeysFiltered(ctx, id+".>")
	if err != nil {
		return nil, fmt.Errorf("jobs: job %s: list tasks: %w", id, err)
	}
	for key := range lister.Keys() {
		if key == writtenKey(id) {
			if e, err := s.kv.Get(ctx, key); err == nil {
				st.written = string(e.Value())
			}
			continue
		}
		if p := strings.Split(key, "."); len(p) != 3 || p[1] != "done" && p[1] != "failed" {
			continue
		}
		e, err := s.kv.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("jobs: job %s: %s: %w", id, key, err)
		}
		st.add(e)
	}
	return st.status(), nil
}

// tally counts a job's task records.
type tally struct {
	job     *Job
	done    map[int]taskDone
	failed  map[int]TaskError
	written string
}

// add records a done or failed key.
func (t *tally) add(e jetstream.KeyValueEntry) {
	parts := strings.Split(e.Key(), ".")
	if len(parts) != 3 {
		return
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 || n >= t.job.Tasks {
		return
	}
	switch parts[1] {
	case "done":
		var d taskDone
		if json.Unmarshal(e.Value(), &d) == nil {
			t.done[n] = d
			delete(t.failed, n) // a late success wins
		}
	case "failed":
		if _, ok := t.done[n]; ok {
			return
		}
		var te TaskError
		if json.Unmarshal(e.Value(), &te) != nil {
			te = TaskError{Job: t.job.ID, Task: n, Error: string(e.Value())}
		}
		t.failed[n] = te
	}
}

func (t *tally) status() *Status {
	st := &Status{Job: t.job, Done: len(t.done), Failed: len(t.failed), Written: t.written}
	st.Pending = t.job.Tasks - st.Done - st.Failed
	for _, f := range t.failed {
		st.Failures = append(st.Failures, f)
	}
	sort.Slice(st.Failures, func(i, j int) bool { return st.Failures[i].Task < st.Failures[j].Task })
	return st
}

// WaitOptions control Wait. The zero value is ready to use.
type WaitOptions struct {
	// Output overrides the job's output (file or directory).
	Output string
	// Progress, when set, is called as tasks finish.
	Progress func(done, failed, total int)
}

// Wait waits until every task of job id is done or failed (or ctx ends).
// It assembles the job's output from the tasks' outputs, in task order, as
// the tasks finish, and returns the status; when some failed it writes
// nothing and returns the status and a *FailedError naming them. A file
// output (embed's .npy, explain's JSON lines) goes into a temporary file
// that becomes the output (atomically; again when it was written before)
// once every task is done. A directory output (an index job's index, a
// knnlm-datastore job's datastore) is built once every task is done, from
// the vectors or keys collected in memory (an index) or fed to the index
// as they come (a datastore), and saved as its single-machine build saves
// it; it must not exist unless the job's spec says Overwrite.
func Wait(ctx context.Context, js jetstream.JetStream, id string, opts WaitOptions) (*Status, error) {
	var s *store
	var job *Job
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		if s, err = openExisting(ctx, js, id); err != nil {
			return err
		}
		job, err = s.getJob(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := opts.Output
	if out == "" {
		out = job.output()
	}
	if out == "" {
		return nil, fmt.Errorf("jobs: job %s (%s) names no output: give one", id, job.Kind)
	}
	t := &tally{job: job, done: map[int]taskDone{}, failed: map[int]TaskError{}}
	var watchErr error
	// collect watches the job and hands each task's output, in task order,
	// to add; it returns errJobFailed when tasks failed.
	collect := func(add func(d taskDone, b []byte) error) error {
		a := &assembler{s: s, job: job, add: add, dim: -1}
		watchErr = t.watch(ctx, s, func() error {
			if opts.Progress != nil {
				opts.Progress(len(t.done), len(t.failed), job.Tasks)
			}
			if len(t.failed) > 0 {
				return nil // nothing more to write; go on to name every failure
			}
			return a.writeReady(ctx, t.done)
		})
		switch {
		case watchErr != nil:
			return watchErr
		case len(t.failed) > 0:
			return errJobFailed
		}
		return a.finish(ctx, t.done)
	}
	err = assemble(ctx, s, job, out, collect)
	st := t.status()
	switch {
	case errors.Is(err, errJobFailed):
		return st, &FailedError{Job: id, Tasks: job.Tasks, Failures: st.Failures}
	case watchErr != nil:
		return st, fmt.Errorf("jobs: job %s: %d of %d tasks done, %d failed: %w", id, st.Done, job.Tasks, st.Failed, watchErr)
	case err != nil:
		return st, fmt.Errorf("jobs: job %s: write %s: %w", id, out, err)
	}
	if err := retry(ctx, func(ctx context.Context) error { _, err := s.kv.Put(ctx, writtenKey(id), []byte(out)); return err }); err != nil {
		return st, fmt.Errorf("jobs: job %s: record output written: %w", id, err)
	}
	st.Written = out
	return st, nil
}

// errJobFailed ends the output file of a job with failed tasks.
var errJobFailed = errors.New("tasks failed")

// tryTimeout bounds each try of retry (tests shorten it).
var tryTimeout = 5 * time.Second

// retry runs fn until it succeeds, for up to 30s, while its error is one a
// cluster gives while it elects a leader (a timeout, no responders); other
// errors end it at once.
func retry(ctx context.Context, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, tryTimeout)
		err := fn(c)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// errReplicaBehind marks a read that did not find what another record
// says is stored.
var errReplicaBehind = errors.New("a replica is behind")

// transient reports whether err may go away when asked again.
func transient(err error) bool {
	switch {
	case errors.Is(err, errReplicaBehind), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrConnectionReconnecting):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no responders") || strings.Contains(msg, "timeout") || strings.Contains(msg, "leader") ||
		strings.Contains(msg, "temporarily unavailable") // JetStream while its meta group has no leader
}

// watch follows the job's done and failed keys until every task has one,
// calling update after each.
func (t *tally) watch(ctx context.Context, s *store, update func() error) error {
	id := t.job.ID
	// One filter (servers before 2.10 take no more); add skips the other keys.
	w, err := s.kv.Watch(ctx, id+".>", jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer w.Stop()
	for len(t.done)+len(t.failed) < t.job.Tasks {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e != nil {
				t.add(e)
				if err := update(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// output is the output the job's spec names.
func (j *Job) output() string {
	switch {
	case j.Kind == KindEmbed && j.Embed != nil:
		return j.Embed.Output
	case j.Kind == KindIndex && j.Index != nil:
		return j.Index.Output
	case j.Kind == KindKNNLM && j.KNNLM != nil:
		return j.KNNLM.Output
	case j.Kind == KindExplain && j.Explain != nil:
		return j.Explain.Output
	}
	return ""
}

// matrix reports whether the job's task outputs are rows of float32s.
func (j *Job) matrix() bool { return j.Kind != KindExplain }

// assemble makes the output out of job from the task outputs that collect
// hands over in task order: a file written atomically (embed: a .npy
// matrix; explain: JSON lines), or a directory that is complete once it
// appears (index, knnlm-datastore). Nothing is written when collect
// fails.
func assemble(ctx context.Context, s *store, job *Job, out string, collect func(add func(d taskDone, b []byte) error) error) error {
	switch job.Kind {
	case KindEmbed:
		return atomicfile.Write(out, func(w io.Writer) error {
			header := false
			return collect(func(d taskDone, b []byte) error {
				if !header {
					if err := npy.EncodeHeader(w, job.Rows, d.Dim); err != nil {
						return err
					}
					header = true
				}
				_, err := w.Write(b)
				return err
			})
		})
	case KindExplain:
		return atomicfile.Write(out, func(w io.Writer) error {
			return collect(func(d taskDone, b []byte) error { _, err := w.Write(b); return err })
		})
	case KindIndex:
		return buildIndex(ctx, s, job, out, collect)
	case KindKNNLM:
		return buildDatastore(ctx, s, job, out, collect)
	}
	return fmt.Errorf("job kind %q: this version of loupe assembles %s, %s, %s and %s jobs", job.Kind, KindEmbed, KindIndex, KindKNNLM, KindExplain)
}

// floats reads little-endian float32s.
func floats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// assembler hands a job's task outputs, in task order, to add as the
// tasks finish, checking that they tile the job's rows (and, for matrix
// outputs, that every row has the first task's width).
type assembler struct {
	s    *store
	job  *Job
	add  func(d taskDone, b []byte) error
	next int // the next task to hand over
	rows int // rows handed over
	dim  int // row width (-1 before the first task)
}

// writeReady writes the done tasks from a.next on, up to the first one
// not done yet.
func (a *assembler) writeReady(ctx context.Context, done map[int]taskDone) error {
	for ; a.next < a.job.Tasks; a.next++ {
		d, ok := done[a.next]
		if !ok {
			return nil
		}
		n := a.next
		matrix := a.job.matrix()
		if a.dim < 0 {
			if matrix && d.Dim <= 0 {
				return fmt.Errorf("task %d has %d-wide rows", n, d.Dim)
			}
			a.dim = d.Dim
		}
		switch {
		case d.First != a.rows:
			return fmt.Errorf("task %d starts at row %d, want %d", n, d.First, a.rows)
		case d.Dim != a.dim:
			return fmt.Errorf("task %d has %d-wide rows, task 0 %d", n, d.Dim, a.dim)
		case a.rows+d.Rows > a.job.Rows:
			return fmt.Errorf("task %d ends at row %d of a %d-row job", n, a.rows+d.Rows, a.job.Rows)
		}
		name := objectName(a.job.ID, n)
		var b []byte
		// The object store checks the digest of what it returns.
		err := retry(ctx, func(ctx context.Context) error {
			var err error
			b, err = a.s.objects.GetBytes(ctx, name)
			if errors.Is(err, jetstream.ErrObjectNotFound) {
				// The task's done record says the object is stored: a read
				// served by a replica still catching up (a node back a moment
				// ago) does not see it yet.
				return fmt.Errorf("%w: %w", errReplicaBehind, err)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
		if want := d.Rows * a.dim * 4; matrix && len(b) != want {
			return fmt.Errorf("output %s: %d bytes, want %d", name, len(b), want)
		}
		if err := a.add(d, b); err != nil {
			return err
		}
		a.rows += d.Rows
	}
	return nil
}

// finish writes what is left and checks that the file is whole.
func (a *assembler) finish(ctx context.Context, done map[int]taskDone) error {
	if err := a.writeReady(ctx, done); err != nil {
		return err
	}
	if a.next != a.job.Tasks || a.rows != a.job.Rows {
		return fmt.Errorf("wrote %d of %d tasks, %d of %d rows", a.next, a.job.Tasks, a.rows, a.job.Rows)
	}
	return nil
}
