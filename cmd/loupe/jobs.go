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
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/jobs"
	"github.com/loupe-ml/loupe/natsconn"
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
	Short: "Run batch work on many machines through NATS JetStream (submit, status, wait)",
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
	Short: "Submit a batch job (embed)",
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
	jobsSubmitCmd.AddCommand(jobsSubmitEmbedCmd)
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
	fmt.Fprintf(w, "job %s (%s, %d texts): %d tasks: %d done, %d pending, %d failed\n", st.Job.ID, st.Job.Kind, st.Job.Rows, st.Job.Tasks, st.Done, st.Pending, st.Failed)
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
