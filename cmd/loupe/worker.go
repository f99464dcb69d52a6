package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/jobs"
)

var workerFlags struct {
	concurrency int
	name        string
}

var workerCmd = &cobra.Command{
	Use:   "worker --nats URL [flags]",
	Short: "Take batch-job tasks from NATS JetStream and run them, until stopped",
	Long: `Run tasks of the jobs that "loupe jobs submit" queues, until SIGINT or SIGTERM;
then finish the tasks in hand (store their output and acknowledge them) and
exit. Start as many workers as you like, on any machine that reaches the NATS
server or cluster and can load the jobs' models. Prints one line per task
(JSON lines with --format json). See docs/cluster.md.`,
	Example: `  loupe worker --nats nats://127.0.0.1:4222
  loupe worker --nats tls://a:4222,tls://b:4222 --nats-creds worker.creds --nats-tls-ca ca.pem --concurrency 2`,
	Args: cobra.NoArgs,
	RunE: runWorker,
}

func init() {
	f := workerCmd.Flags()
	addNATSFlags(f, &jobsFlags.nats)
	f.IntVar(&workerFlags.concurrency, "concurrency", 1, "tasks run at once (each with its own copy of the model)")
	f.StringVar(&workerFlags.name, "name", "", "name of this worker in task records (default: host name and process id)")
	addJetStreamFlags(f)
	rootCmd.AddCommand(workerCmd)
}

func runWorker(cmd *cobra.Command, args []string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	name := workerFlags.name
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	jobsFlags.nats.Name = "loupe worker " + name
	nc, js, err := connectJetStream(ctx, "worker", jobsFlags.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	out := cmd.OutOrStdout()
	var mu sync.Mutex // OnTask runs on --concurrency goroutines
	fmt.Fprintf(cmd.ErrOrStderr(), "worker %s: connected to %s, waiting for tasks\n", name, nc.ConnectedUrlRedacted())
	opts := jobs.WorkerOptions{Config: jobsConfig(), Concurrency: workerFlags.concurrency, Name: name,
		Embed: embed.Options{Client: hubClient()},
		OnTask: func(ev jobs.TaskEvent) {
			mu.Lock()
			defer mu.Unlock()
			msg := ""
			if ev.Error != "" {
				msg = ": " + ev.Error
			}
			jsonOrLine(out, ev, "job %s task %d: %s, %d rows in %.2fs (delivery %d)%s\n", ev.Job, ev.Task, ev.Outcome, ev.Rows, ev.Seconds, ev.Deliveries, msg)
		}}
	if err := jobs.Work(ctx, js, opts); err != nil {
		return cmdError("worker", err)
	}
	return nil
}
