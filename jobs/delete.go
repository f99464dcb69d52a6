package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Delete removes job id from JetStream: its tasks still queued (so a
// running job is cancelled), its input object and output chunks, its dead
// letters and its keys (spec and task states). A worker that is running
// one of its tasks at the time may still store that task's output; Delete
// again removes it.
// The output file Wait wrote is not touched.
func Delete(ctx context.Context, js jetstream.JetStream, id string) error {
	s, err := openExisting(ctx, js, id)
	if err != nil {
		return err
	}
	job, err := s.getJob(ctx, id)
	if err != nil {
		return err
	}
	for _, p := range []struct{ stream, subject string }{
		{TasksStream, taskSubject(id)},
		{DeadStream, deadSubject(id)},
	} {
		st, err := js.Stream(ctx, p.stream)
		if err == nil {
			err = st.Purge(ctx, jetstream.WithPurgeSubject(p.subject))
		}
		if err != nil {
			return fmt.Errorf("jobs: delete job %s: purge %s: %w", id, p.subject, err)
		}
	}
	names := []string{inputName(id)}
	for n := range job.Tasks {
		names = append(names, objectName(id, n))
	}
	for _, name := range names {
		if err := s.objects.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("jobs: delete job %s: object %s: %w", id, name, err)
		}
	}
	// The keys last: until they are gone the job can be deleted again.
	kvs, err := js.Stream(ctx, "KV_"+JobsBucket)
	if err == nil {
		err = kvs.Purge(ctx, jetstream.WithPurgeSubject("$KV."+JobsBucket+"."+id+".>"))
	}
	if err != nil {
		return fmt.Errorf("jobs: delete job %s: keys: %w", id, err)
	}
	return nil
}
