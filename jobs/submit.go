package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/embed"
)

// SubmitOptions control how a job is split and retried. The zero value is
// ready to use.
type SubmitOptions struct {
	Config
	// TaskSize is the most texts (documents, prompts) per task (default
	// DefaultTaskSize); for a knnlm-datastore job, the fewest keys per task
	// (whole windows, so a task may hold more). A task is also cut short
	// so that its message fits the server's max_payload. Make it a
	// multiple of the embed batch size for BERT models, whose batches then
	// hold the same texts as on one machine.
	TaskSize int
	// MaxDeliver is how many times a task is delivered before it is
	// dead-lettered (default DefaultMaxDeliver).
	MaxDeliver int
}

// Headers of a task message (they name the task even when its body cannot
// be read).
const (
	headerJob  = "Loupe-Job"
	headerTask = "Loupe-Task"
)

// SubmitEmbed submits a job that embeds the texts of recs (as read by
// embed.ReadRecordsFile with KeepBlank) with spec's model, its output a
// .npy matrix written by Wait. It stores the job's spec, then publishes
// its tasks, and returns the job; workers (Work) do the rest.
func SubmitEmbed(ctx context.Context, js jetstream.JetStream, recs []embed.Record, spec EmbedSpec, opts SubmitOptions) (*Job, error) {
	if !strings.HasSuffix(strings.ToLower(spec.Output), ".npy") {
		return nil, fmt.Errorf("jobs: output %q: want a FILE.npy (a float32 matrix)", spec.Output)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("jobs: no texts to embed")
	}
	if err := spec.check(); err != nil {
		return nil, err
	}
	job := &Job{Kind: KindEmbed, Embed: &spec, Rows: len(recs)}
	return submit(ctx, js, job, opts, nil, func(size, limit int) ([][]byte, error) {
		return splitTasks(job.ID, recs, size, limit)
	})
}

// check checks the embedding options of spec and fills in the default
// model.
func (spec *EmbedSpec) check() error {
	if err := (embed.Options{BatchSize: spec.BatchSize, MaxSeqLength: spec.MaxSeqLength, Quantize: spec.Quantize}).Validate(); err != nil {
		return err
	}
	if spec.Model == "" {
		spec.Model = defaults.Embed
	}
	return nil
}

// submit gives job its id, its MaxDeliver and its task count, puts input
// (when not nil) in the object store as the job's input, stores the job's
// spec and publishes the tasks that split cuts (at most size rows each,
// each message at most limit bytes).
func submit(ctx context.Context, js jetstream.JetStream, job *Job, opts SubmitOptions, input []byte, split func(size, limit int) ([][]byte, error)) (*Job, error) {
	if opts.TaskSize < 0 {
		return nil, fmt.Errorf("jobs: task size %d: want a positive number of rows per task (0: the default, %d)", opts.TaskSize, DefaultTaskSize)
	}
	if opts.MaxDeliver < 0 {
		return nil, fmt.Errorf("jobs: max deliver %d: want a positive number of deliveries (0: the default, %d)", opts.MaxDeliver, DefaultMaxDeliver)
	}
	size, maxDeliver := opts.TaskSize, opts.MaxDeliver
	if size == 0 {
		size = DefaultTaskSize
	}
	if maxDeliver == 0 {
		maxDeliver = DefaultMaxDeliver
	}
	s, err := open(ctx, js, opts.Config)
	if err != nil {
		return nil, err
	}
	if _, err := ensureConsumer(ctx, js, opts.Config); err != nil {
		return nil, err
	}
	job.ID, job.MaxDeliver, job.Submitted = newID(), maxDeliver, time.Now().UTC()
	limit := int(js.Conn().MaxPayload()) - 4096 // room for headers and the subject
	tasks, err := split(size, limit)
	if err != nil {
		return nil, err
	}
	job.Tasks = len(tasks)
	if input != nil {
		if err := whileLeaderless(ctx, func() error {
			_, err := s.objects.PutBytes(ctx, inputName(job.ID), input)
			return err
		}); err != nil {
			return nil, fmt.Errorf("jobs: store the input of job %s: %w", job.ID, err)
		}
	}
	b, _ := json.Marshal(job)
	tried := false
	if err := whileLeaderless(ctx, func() error {
		_, err := s.kv.Create(ctx, specKey(job.ID), b)
		if tried && errors.Is(err, jetstream.ErrKeyExists) {
			return nil // an earlier try stored it (the id is new)
		}
		tried = true
		return err
	}); err != nil {
		return nil, fmt.Errorf("jobs: store job %s: %w", job.ID, err)
	}
	if err := publishTasks(ctx, js, job.ID, tasks); err != nil {
		return nil, err
	}
	return job, nil
}

// whileLeaderless runs fn again while it fails with no responders, for up
// to 30s: the streams of buckets that open created a moment ago (the first
// job on a cluster) answer only once they have elected a leader.
func whileLeaderless(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil || !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, jetstream.ErrNoStreamResponse) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// splitTasks cuts recs into tasks of at most size texts whose JSON
// messages are at most limit bytes.
func splitTasks(job string, recs []embed.Record, size, limit int) ([][]byte, error) {
	var out [][]byte
	for lo := 0; lo < len(recs); {
		hi := min(lo+size, len(recs))
		for {
			t := task{Job: job, Task: len(out), First: lo, Lines: [2]int{recs[lo].Line, recs[hi-1].Line}, Texts: embed.Texts(recs[lo:hi])}
			b, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("jobs: task %d: %w", t.Task, err)
			}
			if len(b) <= limit {
				out = append(out, b)
				break
			}
			if hi-lo == 1 {
				return nil, fmt.Errorf("jobs: the text at input line %d is %d bytes, more than a NATS message may hold (max_payload %d)", recs[lo].Line, len(recs[lo].Text), limit+4096)
			}
			hi = lo + (hi-lo)/2
		}
		lo = hi
	}
	return out, nil
}

// publishTasks publishes the task messages of job, each with a message id
// so that a repeated publish is dropped by the stream.
func publishTasks(ctx context.Context, js jetstream.JetStream, job string, tasks [][]byte) error {
	futures := make([]jetstream.PubAckFuture, 0, len(tasks))
	for i, b := range tasks {
		m := nats.NewMsg(taskSubject(job))
		m.Data = b
		m.Header.Set(headerJob, job)
		m.Header.Set(headerTask, strconv.Itoa(i))
		f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(job+"."+strconv.Itoa(i)))
		if err != nil {
			return fmt.Errorf("jobs: publish task %d of job %s: %w", i, job, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			// One more try, synchronously (the message id makes it safe).
			if _, err2 := js.PublishMsg(ctx, f.Msg(), jetstream.WithMsgID(job+"."+strconv.Itoa(i))); err2 != nil {
				return fmt.Errorf("jobs: publish task %d of job %s: %w", i, job, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("jobs: publish tasks of job %s: %w", job, ctx.Err())
		}
	}
	return nil
}
