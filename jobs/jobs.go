package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the JetStream streams, buckets and consumer that jobs use.
const (
	TasksStream    = "LOUPE_TASKS"
	TasksSubject   = "loupe.tasks"
	DeadStream     = "LOUPE_DEAD"
	DeadSubject    = "loupe.dead"
	JobsBucket     = "loupe_jobs"
	OutputsBucket  = "loupe_job_outputs"
	WorkerConsumer = "loupe-workers"
)

// Defaults of Config and EmbedSpec.
const (
	DefaultReplicas   = 0 // 3 where the cluster can place them, else 1
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 5
	DefaultTaskSize   = 1000
)

// Config says how the JetStream streams, buckets and the worker consumer
// are created when they do not exist yet. Existing ones are used as they
// are. The zero value is ready to use.
type Config struct {
	// Replicas of each stream and bucket. 0 (the default) asks for 3 and
	// takes 1 when the server cannot place 3 (a single server, a cluster of
	// fewer than three, or one with a node down at that moment): R3 on a
	// cluster of three or more survives the loss of one node.
	Replicas int
	// AckWait is how long JetStream waits for a worker's acknowledgement
	// (or progress report) before it delivers a task again (default 30s).
	// Workers report progress every AckWait/3 while they work.
	AckWait time.Duration
}

// replicaChoices are the replica counts to try, in order.
func (c Config) replicaChoices() []int {
	if c.Replicas > 0 {
		return []int{c.Replicas}
	}
	return []int{3, 1}
}

// placementError reports whether err says the server cannot place that
// many replicas.
func placementError(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode {
		case 10005, 10074, 10023: // no suitable peers, replicas > 1 in non-clustered mode, insufficient resources
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "no suitable peers") || strings.Contains(msg, "replicas > 1 not supported") || strings.Contains(msg, "insufficient resources")
}

// withReplicas runs create with each replica count of c until one is not
// refused for placement.
func withReplicas[T any](c Config, create func(r int) (T, error)) (T, error) {
	choices := c.replicaChoices()
	for i, r := range choices {
		v, err := create(r)
		if err == nil || i == len(choices)-1 || !placementError(err) {
			return v, err
		}
	}
	panic("unreachable")
}

func (c Config) ackWait() time.Duration {
	if c.AckWait <= 0 {
		return DefaultAckWait
	}
	return c.AckWait
}

// store holds the JetStream handles a job needs.
type store struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	objects jetstream.ObjectStore
}

// open returns the handles, creating what does not exist yet with c. A
// request about a stream that does not exist is answered by the
// JetStream meta leader only, and goes unanswered when the leader changes
// meanwhile (a node lost or restarted): each try has its own deadline and
// open tries again while the cluster elects a leader.
func open(ctx context.Context, js jetstream.JetStream, c Config) (*store, error) {
	var s *store
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		s, err = openOnce(ctx, js, c)
		return err
	})
	return s, err
}

// openOnce is one try of open.
func openOnce(ctx context.Context, js jetstream.JetStream, c Config) (*store, error) {
	if _, err := ensureStream(ctx, js, c, jetstream.StreamConfig{
		Name: TasksStream, Subjects: []string{TasksSubject + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute,
		Description: "loupe batch job tasks (work queue)",
	}); err != nil {
		return nil, err
	}
	if _, err := ensureStream(ctx, js, c, jetstream.StreamConfig{
		Name: DeadStream, Subjects: []string{DeadSubject + ".>"}, Storage: jetstream.FileStorage,
		Description: "loupe batch job tasks that failed (dead letters, with their errors)",
	}); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, JobsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = withReplicas(c, func(r int) (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: JobsBucket, Replicas: r, Storage: jetstream.FileStorage,
				Description: "loupe batch jobs: specs and task states"})
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, JobsBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: key-value bucket %s: %w", JobsBucket, err)
	}
	obj, err := js.ObjectStore(ctx, OutputsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obj, err = withReplicas(c, func(r int) (jetstream.ObjectStore, error) {
			return js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: OutputsBucket, Replicas: r, Storage: jetstream.FileStorage,
				Description: "loupe batch job task outputs"})
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obj, err = js.ObjectStore(ctx, OutputsBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: object store %s: %w", OutputsBucket, err)
	}
	return &store{js: js, kv: kv, objects: obj}, nil
}

// ensureStream returns the stream cfg.Name, creating it with cfg and c's
// replicas when it does not exist.
func ensureStream(ctx context.Context, js jetstream.JetStream, c Config, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = withReplicas(c, func(r int) (jetstream.Stream, error) {
			cfg.Replicas = r
			return js.CreateStream(ctx, cfg)
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, cfg.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// Kinds of job.
const (
	KindEmbed   = "embed"           // embed texts into a .npy matrix (EmbedSpec)
	KindIndex   = "index"           // embed documents into a search index (IndexSpec)
	KindKNNLM   = "knnlm-datastore" // a kNN-LM datastore of a token stream (KNNLMSpec)
	KindExplain = "explain"         // explain prompts into JSON lines (ExplainSpec)
)

// Job is a submitted job's spec, as stored under JOB.spec.
type Job struct {
	// ID names the job (lower-case hex).
	ID string `json:"id"`
	// Kind is what the tasks do: KindEmbed, KindIndex, KindKNNLM or
	// KindExplain.
	Kind string `json:"kind"`
	// Embed is the embedding of an embed or index job's texts.
	Embed *EmbedSpec `json:"embed,omitempty"`
	// Index is the index an index job builds of the embedded documents.
	Index *IndexSpec `json:"index,omitempty"`
	// KNNLM is the spec of a knnlm-datastore job.
	KNNLM *KNNLMSpec `json:"knnlm,omitempty"`
	// Explain is the spec of an explain job.
	Explain *ExplainSpec `json:"explain,omitempty"`
	// Rows is the number of output rows: input records (embed, index,
	// explain) or keys (knnlm-datastore). Tasks is the number of tasks.
	Rows  int `json:"rows"`
	Tasks int `json:"tasks"`
	// MaxDeliver is how many times a task is delivered before it is
	// dead-lettered.
	MaxDeliver int `json:"max_deliver"`
	// Submitted is when the job was submitted.
	Submitted time.Time `json:"submitted"`
}

// EmbedSpec is what an embed job computes: the embed.Options of the
// model and where the output goes.
type EmbedSpec struct {
	// Input names the input file (for humans; the texts travel in the
	// tasks).
	Input string `json:"input,omitempty"`
	// Output is the .npy file that Wait writes: one float32 row per input
	// record, in input order, as embed.WriteVectors writes it.
	Output string `json:"output"`
	// Model is the hub id or directory of the model on the workers
	// (default: defaults.Embed).
	Model        string `json:"model"`
	BatchSize    int    `json:"batch_size,omitempty"`
	MaxSeqLength int    `json:"max_seq_length,omitempty"`
	Quantize     string `json:"quantize,omitempty"`
}

// task is one task message: rows First … of job, made of texts (embed,
// index, explain: one row per text) or of windows Windows[0] …
// Windows[1]-1 of a knnlm-datastore job's token stream, whose tokens
// (from the first window's begin to the last one's end) it holds.
type task struct {
	Job   string `json:"job"`
	Task  int    `json:"task"`
	First int    `json:"first"`
	// Lines are the input lines of the first and last text.
	Lines   [2]int   `json:"lines"`
	Texts   []string `json:"texts,omitempty"`
	Windows [2]int   `json:"windows,omitzero"`
	Tokens  []int32  `json:"tokens,omitempty"`
}

// taskDone is the value of JOB.done.N.
type taskDone struct {
	First  int    `json:"first"`
	Rows   int    `json:"rows"`
	Dim    int    `json:"dim"`
	Worker string `json:"worker,omitempty"`
}

// TaskError is a task that failed: the value of JOB.failed.N and the body
// of its dead letter.
type TaskError struct {
	Job  string `json:"job"`
	Task int    `json:"task"`
	// Lines are the input lines of the task's first and last text.
	Lines [2]int `json:"lines"`
	// Deliveries is how many times the task was delivered.
	Deliveries int `json:"deliveries"`
	// Error is the error that made it fail.
	Error string `json:"error"`
}

func (e TaskError) String() string {
	if e.Lines[0] == 0 {
		return fmt.Sprintf("task %d (%d deliveries): %s", e.Task, e.Deliveries, e.Error)
	}
	return fmt.Sprintf("task %d (input lines %d-%d, %d deliveries): %s", e.Task, e.Lines[0], e.Lines[1], e.Deliveries, e.Error)
}

// Key names in JobsBucket.
func specKey(job string) string           { return job + ".spec" }
func doneKey(job string, n int) string    { return job + ".done." + strconv.Itoa(n) }
func failedKey(job string, n int) string  { return job + ".failed." + strconv.Itoa(n) }
func errKey(job string, n int) string     { return job + ".err." + strconv.Itoa(n) }
func writtenKey(job string) string        { return job + ".written" }
func objectName(job string, n int) string { return job + "/" + strconv.Itoa(n) }
func inputName(job string) string         { return job + "/input" }
func taskSubject(job string) string       { return TasksSubject + "." + job }
func deadSubject(job string) string       { return DeadSubject + "." + job }

// newID returns a fresh job id.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID reports whether id can be a job id (it is used in subjects and
// keys).
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// getJob reads the spec of job id.
func (s *store) getJob(ctx context.Context, id string) (*Job, error) {
	if !validID(id) {
		return nil, fmt.Errorf("jobs: %q is not a job id", id)
	}
	e, err := s.kv.Get(ctx, specKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("jobs: no job %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: job %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return nil, fmt.Errorf("jobs: job %s: spec: %w", id, err)
	}
	return &j, nil
}
