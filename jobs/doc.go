// Package jobs runs loupe's batch work on many machines through NATS
// JetStream: a job is split into tasks on a durable work queue, any number
// of workers (on any machine that reaches the NATS cluster) take tasks,
// store each task's output durably and only then acknowledge it, and the
// submitter (or anyone) waits for the job and assembles its output.
//
// The simplest use is three calls:
//
//	job, err := jobs.SubmitEmbed(ctx, js, recs, jobs.EmbedSpec{Output: "vectors.npy"}, jobs.Config{})
//	err = jobs.Work(ctx, js, jobs.WorkerOptions{})       // on each worker machine, until ctx ends
//	st, err := jobs.Wait(ctx, js, job.ID, jobs.WaitOptions{}) // writes vectors.npy
//
// where js comes from natsconn.ConnectJetStream.
//
// # Job kinds
//
// Each kind gives what its single-machine command gives:
//
//   - embed (SubmitEmbed): tasks of texts, embedded by the workers; Wait
//     writes the .npy matrix `loupe embed` writes, byte for byte.
//   - index (SubmitIndex): tasks of document texts, embedded as embed's;
//     Wait builds the index directory (search.BuildEmbedded) from the
//     documents, stored at submission in the job's input object, and the
//     vectors: the files `loupe index build --input` writes.
//   - knnlm-datastore (SubmitKNNLM): tasks of whole sliding windows of a
//     token stream with their tokens; a worker computes their keys with
//     knnlm.Keys after checking its model's fingerprint; Wait feeds them,
//     in position order, to a knnlm.Writer with the token stream (the
//     input object): the datastore `loupe knnlm build` writes.
//   - explain (SubmitExplain): tasks of prompts; a worker explains each
//     as `loupe explain --format json` does; Wait writes the JSON lines in
//     input order.
//
// Every task's output is one object of rows (float32 rows, or JSON lines
// for explain), and Wait hands the objects over in task order.
//
// # How a job flows
//
// JetStream keeps four things (created on first use with Config.Replicas
// replicas; R3 on a 3-node cluster survives the loss of one node):
//
//   - the stream TasksStream (subjects loupe.tasks.JOB), a work queue
//     (WorkQueuePolicy) with one durable pull consumer, WorkerConsumer,
//     acknowledged explicitly: a task message holds its texts, so a worker
//     needs nothing but NATS and the model;
//   - the key-value bucket JobsBucket: the job's spec under JOB.spec, and
//     one key per finished task: JOB.done.N (rows, dim), JOB.failed.N
//     (the error), JOB.err.N (the last error of a task that will be retried),
//     JOB.written once the output is assembled;
//   - the object store OutputsBucket: task N's output under JOB/N (its rows
//     as little-endian float32, or explain's JSON lines), and the input an
//     index or knnlm-datastore job's Wait needs under JOB/input (the
//     documents, the token stream);
//   - the stream DeadStream (subjects loupe.dead.JOB): one message per task
//     that failed MaxDeliver times, with the error that made it fail.
//
// A worker fetches a task, reports progress to JetStream while it works (so
// the task is not redelivered while it is alive), puts the output object,
// records JOB.done.N, and then acknowledges the message. A worker that dies
// at any point before the acknowledgement (kill -9, a lost machine) leaves
// the message unacknowledged: JetStream delivers it again after the
// consumer's AckWait, and the next worker writes the same object again
// (the same name, the same bytes) or, when JOB.done.N is already there,
// acknowledges it at once. Delivery is at least once; the output is exactly
// once: one object per task, assembled in task order.
//
// A task whose processing fails is retried (negative acknowledgement with
// a growing delay) until it has been delivered the job's MaxDeliver times;
// then it is recorded as failed, published on the dead-letter subject with
// its error, and terminated. A task that no worker finishes in MaxDeliver
// deliveries (the workers that take it keep dying) is dead-lettered the
// same way on its next delivery.
//
// Wait watches the job's keys and appends each task's object, in task
// order, to a temporary file as the tasks finish; once every task is done
// the file is synced and renamed over the output (atomically). An index or
// datastore directory is built once every task is done. When some tasks
// failed it writes nothing and returns a *FailedError listing them.
// Delete removes a job's tasks, outputs, dead letters and keys.
package jobs
