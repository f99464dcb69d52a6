package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/jobs"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/train"
)

var jobsFlags struct {
	nats         natsconn.Options
	input        string
	output       string
	model        string
	batch        int
	batchSize    int
	maxSeqLength int
	quantize     string
	maxDeliver   int
	replicas     int
	ackWait      time.Duration
	timeout      time.Duration
}

var jobsCmd = &cobra.Command{
	Use:   "jobs",
	Short: "Run batch work on many machines through NATS JetStream (submit, status, wait, delete)",
	Long: `A job is split into tasks on a NATS JetStream work queue; any number of
"loupe worker" processes, on any machine that reaches the NATS server or
cluster, take the tasks, store each task's output in JetStream and only then
acknowledge it. A worker killed mid-task loses nothing: the task is delivered
again after the ack wait. A task that keeps failing is dead-lettered with its
error. "loupe jobs wait" waits for the job and writes its output.
See docs/cluster.md.`,
}

var jobsSubmitCmd = &cobra.Command{
	Use:   "submit",
	Short: "Submit a batch job (embed, index, knnlm-datastore, explain)",
}

// jobsKindFlags are the flags of the job kinds other than embed (whose
// defaults differ from embed's: a flag variable shared by two commands
// takes the default of the one defined last).
var jobsKindFlags struct {
	index     index.Options
	overwrite bool
	knnInput  []string
	knnModel  string
	documents string
	knnIndex  string
	maxLength int
	stride    int
	explain   explainOptFlags
}

var jobsSubmitIndexCmd = &cobra.Command{
	Use:   "index --input FILE --output DIR [flags]",
	Short: "Submit a job that builds a search index of the documents of a file",
	Long: `Submit a job that builds the index "loupe index build --input FILE --out DIR"
builds: the workers embed the documents' texts (--batch per task) with
--model; "loupe jobs wait ID" builds the index directory from the documents
(ids and metadata included; they travel in JetStream's object store) and
their vectors, the same files as the single-machine build (a flat index:
byte for byte). DIR is made absolute and is written where "jobs wait" runs.`,
	Example: `  loupe jobs submit index --nats nats://127.0.0.1:4222 --input docs.jsonl --output docs.idx --kind flat --format json`,
	Args:    cobra.NoArgs,
	RunE:    runJobsSubmitIndex,
}

var jobsSubmitKNNLMCmd = &cobra.Command{
	Use:   "knnlm-datastore --input FILE|DIR... --output DS [flags]",
	Short: "Submit a job that builds a kNN-LM datastore of a corpus",
	Long: `Submit a job that builds the datastore "loupe knnlm build --corpus FILE --out DS"
builds. This command loads --model to tokenize the corpus (as knnlm build
does) and to fingerprint it; each task holds a run of the build's sliding
windows (--batch keys or more, whole windows) and their tokens; a worker
computes their keys (final hidden states) with the same model, whose
fingerprint it checks; "loupe jobs wait ID" writes the datastore: the same
tokens, keys, index and manifest as the single-machine build
(build_seconds aside). DS is made absolute and is written where "jobs wait"
runs.`,
	Example: `  loupe jobs submit knnlm-datastore --nats nats://127.0.0.1:4222 --input train.txt --documents lines --output kjv.knn --format json`,
	Args:    cobra.NoArgs,
	RunE:    runJobsSubmitKNNLM,
}

var jobsSubmitExplainCmd = &cobra.Command{
	Use:   "explain --input PROMPTS --output OUT.jsonl [flags]",
	Short: "Submit a job that explains each prompt of a file into JSON lines",
	Long: `Submit a job that explains each prompt of --input (text lines, or JSON lines
with "text") as "loupe explain --format json PROMPT" does with the same
flags; each task explains --batch prompts. "loupe jobs wait ID" writes
OUT.jsonl: line i is the explanation of prompt i. Give --seed or --greedy
for output that does not depend on the worker (without them each prompt is
sampled with a random seed). kNN-LM and RALM decoding (--knn, --retrieve),
--continuation and --html are loupe explain's only.`,
	Example: `  loupe jobs submit explain --nats nats://127.0.0.1:4222 --input prompts.txt --output explained.jsonl --greedy --max-new-tokens 8 --format json`,
	Args:    cobra.NoArgs,
	RunE:    runJobsSubmitExplain,
}

var jobsSubmitEmbedCmd = &cobra.Command{
	Use:   "embed --input FILE --output OUT.npy [flags]",
	Short: "Submit a job that embeds the texts of a file into OUT.npy",
	Long: `Submit a job that embeds the texts of --input (the inputs "loupe embed --input"
reads: text lines, or JSON lines with "text") with --model, split into tasks of
--batch texts. The workers load the model; "loupe jobs wait ID" writes OUT.npy,
the float32 matrix "loupe embed --input FILE --output OUT.npy" writes, row for
row. OUT.npy is made absolute and is written where "jobs wait" runs.
Prints the job's id.`,
	Example: `  loupe jobs submit embed --nats nats://127.0.0.1:4222 --input docs.jsonl --output vectors.npy --format json
  loupe jobs submit embed --nats nats://a:4222,nats://b:4222,nats://c:4222 --replicas 3 --input docs.txt --output vectors.npy --batch 2000`,
	Args: cobra.NoArgs,
	RunE: runJobsSubmitEmbed,
}

var jobsStatusCmd = &cobra.Command{
	Use:   "status ID",
	Short: "Show a job's done, pending and failed tasks",
	Args:  cobra.ExactArgs(1),
	RunE:  runJobsStatus,
}

var jobsWaitCmd = &cobra.Command{
	Use:   "wait ID",
	Short: "Wait for a job, then write its output; fails naming the failed tasks",
	Long: `Wait until every task of the job is done or has failed for good. When all are
done, write the job's output (atomically) and exit 0; when some failed, exit
non-zero with their errors. --timeout gives up (non-zero) after that long.`,
	Args: cobra.ExactArgs(1),
	RunE: runJobsWait,
}

var jobsDeleteCmd = &cobra.Command{
	Use:   "delete ID",
	Short: "Delete a job from JetStream: queued tasks (cancelling it), output chunks, dead letters, keys",
	Args:  cobra.ExactArgs(1),
	RunE:  runJobsDelete,
}

func init() {
	for _, c := range []*cobra.Command{jobsSubmitEmbedCmd, jobsStatusCmd, jobsWaitCmd, jobsDeleteCmd} {
		addNATSFlags(c.Flags(), &jobsFlags.nats)
	}
	f := jobsSubmitEmbedCmd.Flags()
	f.StringVar(&jobsFlags.input, "input", "", "file of texts: text lines or JSON lines with \"text\" (.gz read through gzip)")
	f.StringVar(&jobsFlags.output, "output", "", "the FILE.npy that jobs wait writes (a float32 matrix, one row per text)")
	f.StringVar(&jobsFlags.model, "model", defaults.Embed, "hub id or directory of the embedding model, as the workers resolve it")
	f.IntVar(&jobsFlags.batch, "batch", jobs.DefaultTaskSize, "texts per task")
	addEmbedFlags(f, &jobsFlags.batchSize, &jobsFlags.quantize, " (on the workers)")
	f.IntVar(&jobsFlags.maxSeqLength, "max-seq-length", 0, "truncate texts to this many tokens (0: the model's max_seq_length)")
	f.IntVar(&jobsFlags.maxDeliver, "max-deliver", jobs.DefaultMaxDeliver, "deliveries of a task before it is dead-lettered")
	addJetStreamFlags(f)
	jobsWaitCmd.Flags().DurationVar(&jobsFlags.timeout, "timeout", 0, "give up after this long (0: wait for ever)")
	jobsWaitCmd.Flags().StringVar(&jobsFlags.output, "output", "", "write the output here instead of the job's --output")
	f = jobsSubmitIndexCmd.Flags()
	f.StringVar(&jobsFlags.input, "input", "", "documents: JSON lines with \"text\" (optional \"id\" and other fields kept as metadata) or plain lines")
	f.StringVar(&jobsFlags.output, "output", "", "the index directory that jobs wait writes")
	f.StringVar(&jobsFlags.model, "model", defaults.Embed, "hub id or directory of the embedding model, as the workers resolve it; recorded in the index")
	f.IntVar(&jobsFlags.batch, "batch", jobs.DefaultTaskSize, "documents per task")
	addEmbedFlags(f, &jobsFlags.batchSize, &jobsFlags.quantize, " (on the workers)")
	addIndexOptionFlags(f, &jobsKindFlags.index)
	f.BoolVar(&jobsKindFlags.overwrite, "overwrite", false, "let jobs wait replace what is at --output")
	f.IntVar(&jobsFlags.maxDeliver, "max-deliver", jobs.DefaultMaxDeliver, "deliveries of a task before it is dead-lettered")
	addJetStreamFlags(f)

	f = jobsSubmitKNNLMCmd.Flags()
	f.StringSliceVar(&jobsKindFlags.knnInput, "input", nil, "text files or directories (repeat or comma-separate), as knnlm build's --corpus")
	f.StringVar(&jobsFlags.output, "output", "", "the datastore directory that jobs wait writes")
	f.StringVar(&jobsKindFlags.knnModel, "model", defaults.GPT2, "GPT-2 model: a directory every worker reaches or a hub id (loaded here too, to tokenize)")
	f.StringVar(&jobsKindFlags.documents, "documents", "files", "documents of --input files: files (one per file) or lines (one per line)")
	f.StringVar(&jobsKindFlags.knnIndex, "index", "flat", "index over the keys: flat (exact) or hnsw")
	f.IntVar(&jobsKindFlags.maxLength, "max-length", 0, "tokens per window (default: the model's n_positions)")
	f.IntVar(&jobsKindFlags.stride, "stride", 0, "tokens between window starts (default: half of --max-length)")
	f.BoolVar(&jobsKindFlags.overwrite, "overwrite", false, "let jobs wait replace what is at --output")
	f.IntVar(&jobsFlags.batch, "batch", jobs.DefaultTaskSize, "keys per task (whole windows: a task may hold more)")
	f.IntVar(&jobsFlags.maxDeliver, "max-deliver", jobs.DefaultMaxDeliver, "deliveries of a task before it is dead-lettered")
	addJetStreamFlags(f)

	f = jobsSubmitExplainCmd.Flags()
	jobsKindFlags.explain.register(f)
	f.StringVar(&jobsFlags.input, "input", "", "prompts: text lines or JSON lines with \"text\" (.gz read through gzip)")
	f.StringVar(&jobsFlags.output, "output", "", "the FILE.jsonl that jobs wait writes (one explanation per prompt, in input order)")
	f.IntVar(&jobsFlags.batch, "batch", jobs.DefaultTaskSize, "prompts per task")
	f.IntVar(&jobsFlags.maxDeliver, "max-deliver", jobs.DefaultMaxDeliver, "deliveries of a task before it is dead-lettered")
	addJetStreamFlags(f)

	for _, c := range []*cobra.Command{jobsSubmitIndexCmd, jobsSubmitKNNLMCmd, jobsSubmitExplainCmd} {
		addNATSFlags(c.Flags(), &jobsFlags.nats)
	}
	jobsSubmitCmd.AddCommand(jobsSubmitEmbedCmd, jobsSubmitIndexCmd, jobsSubmitKNNLMCmd, jobsSubmitExplainCmd)
	jobsCmd.AddCommand(jobsSubmitCmd, jobsStatusCmd, jobsWaitCmd, jobsDeleteCmd)
	rootCmd.AddCommand(jobsCmd)
}

// addJetStreamFlags registers the flags of jobs.Config (used when the
// streams, buckets and consumer are created).
func addJetStreamFlags(f interface {
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	f.IntVar(&jobsFlags.replicas, "replicas", jobs.DefaultReplicas, "replicas of the JetStream streams and buckets when this creates them (0: 3 where the cluster can place them, else 1)")
	f.DurationVar(&jobsFlags.ackWait, "ack-wait", jobs.DefaultAckWait, "time without progress after which a task is delivered to another worker (when this creates the consumer)")
}

func jobsConfig() jobs.Config {
	return jobs.Config{Replicas: jobsFlags.replicas, AckWait: jobsFlags.ackWait}
}

func runJobsSubmitEmbed(cmd *cobra.Command, args []string) error {
	const name = "jobs submit embed"
	if jobsFlags.input == "" || jobsFlags.output == "" {
		return fmt.Errorf("%s: give --input FILE and --output OUT.npy", name)
	}
	out, err := filepath.Abs(jobsFlags.output)
	if err != nil {
		return fmt.Errorf("%s: --output: %w", name, err)
	}
	if err := atomicfile.CheckWritable(out); err != nil {
		return fmt.Errorf("%s: --output: %w", name, err)
	}
	recs, err := textRecords(name, jobsFlags.input, nil, embed.ReadOptions{KeepBlank: true})
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(cmd.Context(), name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	spec := jobs.EmbedSpec{Input: jobsFlags.input, Output: out, Model: jobsFlags.model,
		BatchSize: jobsFlags.batchSize, MaxSeqLength: jobsFlags.maxSeqLength, Quantize: jobsFlags.quantize}
	job, err := jobs.SubmitEmbed(cmd.Context(), js, recs, spec, jobs.SubmitOptions{Config: jobsConfig(), TaskSize: jobsFlags.batch, MaxDeliver: jobsFlags.maxDeliver})
	if err != nil {
		return cmdError(name, err)
	}
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"id": job.ID, "kind": job.Kind, "rows": job.Rows, "tasks": job.Tasks, "model": spec.Model, "output": out},
		"%s\nsubmitted embed job %s: %d texts in %d tasks → %s (loupe jobs wait %s)\n", job.ID, job.ID, job.Rows, job.Tasks, out, job.ID)
}

// submitOptions are the --batch, --max-deliver and JetStream flags.
func submitOptions() jobs.SubmitOptions {
	return jobs.SubmitOptions{Config: jobsConfig(), TaskSize: jobsFlags.batch, MaxDeliver: jobsFlags.maxDeliver}
}

// jobsOutput checks that --input and --output are given and returns
// --output made absolute.
func jobsOutput(name string, input bool, what string) (string, error) {
	if !input || jobsFlags.output == "" {
		return "", fmt.Errorf("%s: give --input and --output %s", name, what)
	}
	out, err := filepath.Abs(jobsFlags.output)
	if err != nil {
		return "", fmt.Errorf("%s: --output: %w", name, err)
	}
	return out, nil
}

// printSubmitted prints a submitted job.
func printSubmitted(cmd *cobra.Command, job *jobs.Job, model, out string) error {
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"id": job.ID, "kind": job.Kind, "rows": job.Rows, "tasks": job.Tasks, "model": model, "output": out},
		"%s\nsubmitted %s job %s: %d rows in %d tasks → %s (loupe jobs wait %s)\n", job.ID, job.Kind, job.ID, job.Rows, job.Tasks, out, job.ID)
}

func runJobsSubmitIndex(cmd *cobra.Command, args []string) error {
	const name = "jobs submit index"
	out, err := jobsOutput(name, jobsFlags.input != "", "DIR")
	if err != nil {
		return err
	}
	if err := index.CheckFree(out, index.DirOptions{Overwrite: jobsKindFlags.overwrite}); err != nil {
		return fmt.Errorf("%s: %s already holds an index; pass --overwrite to replace it", name, out)
	}
	docs, err := textRecords(name, jobsFlags.input, nil, embed.ReadOptions{})
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(cmd.Context(), name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	spec := jobs.IndexSpec{Input: jobsFlags.input, Output: out, Model: jobsFlags.model, BatchSize: jobsFlags.batchSize, Quantize: jobsFlags.quantize,
		Options: jobsKindFlags.index, Overwrite: jobsKindFlags.overwrite}
	job, err := jobs.SubmitIndex(cmd.Context(), js, docs, spec, submitOptions())
	if err != nil {
		return cmdError(name, err)
	}
	return printSubmitted(cmd, job, job.Index.Model, out)
}

func runJobsSubmitKNNLM(cmd *cobra.Command, args []string) error {
	const name = "jobs submit knnlm-datastore"
	fl := &jobsKindFlags
	out, err := jobsOutput(name, len(fl.knnInput) > 0, "DS")
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil && !fl.overwrite {
		return fmt.Errorf("%s: %s already exists; pass --overwrite to replace it", name, out)
	}
	if kind, err := index.ParseKind(fl.knnIndex); err != nil || (kind != index.Flat && kind != index.HNSW) {
		return fmt.Errorf("%s: --index %q: want flat or hnsw", name, fl.knnIndex)
	}
	ctx := cmd.Context()
	p, err := loadPipeline(ctx, fl.knnModel)
	if err != nil {
		return cliError(name, err)
	}
	defer p.Close()
	if err := p.NeedTokenizer(); err != nil {
		return cliError(name, err)
	}
	ids, err := knnlm.TokenizeCorpus(p.Model, p.Tokenizer, fl.knnInput, train.Documents(fl.documents))
	if err != nil {
		return cliError(name, err)
	}
	nc, js, err := connectJetStream(ctx, name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	spec := jobs.KNNLMSpec{Input: fl.knnInput, Output: out, Model: fl.knnModel, MaxLength: fl.maxLength, Stride: fl.stride, Index: fl.knnIndex, Overwrite: fl.overwrite}
	job, err := jobs.SubmitKNNLM(ctx, js, p.Model, p.Tokenizer, ids, spec, submitOptions())
	if err != nil {
		return cliError(name, err)
	}
	return printSubmitted(cmd, job, fl.knnModel, out)
}

func runJobsSubmitExplain(cmd *cobra.Command, args []string) error {
	const name = "jobs submit explain"
	fl := &jobsKindFlags.explain
	out, err := jobsOutput(name, jobsFlags.input != "", "OUT.jsonl")
	if err != nil {
		return err
	}
	if err := atomicfile.CheckWritable(out); err != nil {
		return fmt.Errorf("%s: --output: %w", name, err)
	}
	set, err := fl.dec.settings()
	if err != nil {
		return cliError(name, err)
	}
	if err := checkQuantize(fl.dec.quantize); err != nil {
		return cliError(name, err)
	}
	prompts, err := textRecords(name, jobsFlags.input, nil, embed.ReadOptions{})
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(cmd.Context(), name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	o := fl.opt
	spec := jobs.ExplainSpec{Input: jobsFlags.input, Output: out, Model: fl.dec.model, Quantize: fl.dec.quantize, Settings: set,
		Methods: fl.methods, Target: fl.target, Watch: fl.watch, Intervene: fl.intervene,
		Options: jobs.ExplainOptions{IGSteps: o.IGSteps, Raw: o.Raw, TopK: o.TopK, WatchPosition: o.WatchPosition, NMFComponents: o.NMFComponents,
			FromLayer: o.FromLayer, ToLayer: o.ToLayer, NMFSeed: o.NMFSeed, NoAttention: o.NoAttention}}
	job, err := jobs.SubmitExplain(cmd.Context(), js, prompts, spec, submitOptions())
	if err != nil {
		return cliError(name, err)
	}
	return printSubmitted(cmd, job, fl.dec.model, out)
}

func runJobsStatus(cmd *cobra.Command, args []string) error {
	const name = "jobs status"
	nc, js, err := connectJetStream(cmd.Context(), name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := jobs.GetStatus(cmd.Context(), js, args[0])
	if err != nil {
		return cmdError(name, err)
	}
	return jsonOrText(cmd.OutOrStdout(), st, func(w io.Writer) error { return writeJobStatus(w, st) })
}

// writeJobStatus prints a job's status for people.
func writeJobStatus(w io.Writer, st *jobs.Status) error {
	fmt.Fprintf(w, "job %s (%s, %d rows): %d tasks: %d done, %d pending, %d failed\n", st.Job.ID, st.Job.Kind, st.Job.Rows, st.Job.Tasks, st.Done, st.Pending, st.Failed)
	for _, f := range st.Failures {
		fmt.Fprintf(w, "  failed: %s\n", f)
	}
	if st.Written != "" {
		fmt.Fprintf(w, "output written: %s\n", st.Written)
	}
	return nil
}

func runJobsWait(cmd *cobra.Command, args []string) error {
	const name = "jobs wait"
	// On SIGINT/SIGTERM Wait returns, removing its temporary output file.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if jobsFlags.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, jobsFlags.timeout)
		defer cancel()
	}
	nc, js, err := connectJetStream(ctx, name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	var out string
	if jobsFlags.output != "" {
		if out, err = filepath.Abs(jobsFlags.output); err != nil {
			return fmt.Errorf("%s: --output: %w", name, err)
		}
	}
	start := time.Now()
	st, err := jobs.Wait(ctx, js, args[0], jobs.WaitOptions{Output: out})
	if err != nil {
		var fe *jobs.FailedError
		if st != nil && (errors.As(err, &fe) || jsonOutput()) {
			jsonOrText(cmd.OutOrStdout(), st, func(w io.Writer) error { return writeJobStatus(w, st) })
		}
		if errors.Is(err, context.DeadlineExceeded) && jobsFlags.timeout > 0 {
			return fmt.Errorf("%s: --timeout %v: %w", name, jobsFlags.timeout, err)
		}
		return cmdError(name, err)
	}
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"id": st.Job.ID, "done": st.Done, "tasks": st.Job.Tasks, "rows": st.Job.Rows, "output": st.Written, "seconds": time.Since(start).Seconds()},
		"job %s done: %d tasks, %d rows → %s\n", st.Job.ID, st.Done, st.Job.Rows, st.Written)
}

func runJobsDelete(cmd *cobra.Command, args []string) error {
	const name = "jobs delete"
	nc, js, err := connectJetStream(cmd.Context(), name, jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := jobs.Delete(cmd.Context(), js, args[0]); err != nil {
		return cmdError(name, err)
	}
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"id": args[0], "deleted": true}, "deleted job %s\n", args[0])
}
