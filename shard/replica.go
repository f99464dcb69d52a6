package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
)

// ReplicaOptions configure OpenReplica.
type ReplicaOptions struct {
	// Collection names the collection (default DefaultCollection).
	Collection string
	// Shard is which shard the directory is. A directory split by Split
	// knows (its StateFile); then Shard may be left zero, and must agree
	// when given. A directory without a StateFile (an index built with
	// loupe index build, served as the only shard, 0/1) needs it.
	Shard Spec
	// Name names this replica in answers and logs (default: host-pid).
	Name string
	// Replicas of the stream and bucket when this creates them (0: 3
	// where the cluster can place them, else 1).
	Replicas int
	// SaveInterval is the longest a replica keeps applied updates only in
	// memory while more keep coming (default 1s); it saves as soon as it
	// has applied every update in the stream.
	SaveInterval time.Duration
	// Threads each search uses (0: all cores). A flat search of one
	// question splits the shard between them: good for latency on a
	// machine of its own, overhead where shards share few cores.
	Threads int
	// Logf, if set, receives what the replica does (caught up, saved,
	// skipped updates).
	Logf func(format string, args ...any)
}

// Replica is one replica of one shard: an index directory, answering the
// shard's queries and applying its stream's updates.
type Replica struct {
	opts ReplicaOptions
	dir  string
	spec Spec // which shard: set once

	mu    sync.RWMutex // searches read, applying updates writes
	store *search.Store

	stream   string // State.Stream: set by Run
	applied  atomic.Uint64
	dirty    bool      // applied updates not yet saved (under mu)
	lastSave time.Time // under mu
}

// OpenReplica opens shard directory dir (an index directory, with the
// StateFile that Split writes) as a replica of opts.Shard.
func OpenReplica(dir string, opts ReplicaOptions) (*Replica, error) {
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if err := checkName(opts.Collection); err != nil {
		return nil, err
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = time.Second
	}
	if opts.Name == "" {
		host, _ := os.Hostname()
		opts.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	st, ok, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok && opts.Shard.N == 0:
		return nil, fmt.Errorf("shard: %s has no %s: say which shard it is (I/N), or split an index with loupe shard split", dir, StateFile)
	case !ok:
		st = State{Shard: opts.Shard.I, Shards: opts.Shard.N}
	case opts.Shard.N != 0 && (opts.Shard.I != st.Shard || opts.Shard.N != st.Shards):
		return nil, fmt.Errorf("shard: %s is shard %d/%d (its %s), not %s", dir, st.Shard, st.Shards, StateFile, opts.Shard)
	}
	if st.Collection != "" && st.Collection != opts.Collection {
		return nil, fmt.Errorf("shard: %s serves collection %s (its %s), not %s", dir, st.Collection, StateFile, opts.Collection)
	}
	st.Collection = opts.Collection
	s, err := search.Open(dir, search.OpenOptions{})
	if err != nil {
		return nil, err
	}
	if !ok && st.Shards > 1 {
		// An index not written by Split: every document must belong here,
		// or the collection would answer some ids twice and miss others.
		for _, id := range s.Index().IDs() {
			if got := ShardOf(id, st.Shards); got != st.Shard {
				s.Close()
				return nil, fmt.Errorf("shard: %s holds id %d, which belongs to shard %d of %d, not %d: split the collection with loupe shard split", dir, id, got, st.Shards, st.Shard)
			}
		}
	}
	r := &Replica{opts: opts, dir: dir, spec: Spec{st.Shard, st.Shards}, store: s, stream: st.Stream}
	r.applied.Store(st.Applied)
	return r, nil
}

// Shard returns which shard the replica is.
func (r *Replica) Shard() Spec { return r.spec }

// Applied returns the stream sequence of the last update applied.
func (r *Replica) Applied() uint64 { return r.applied.Load() }

// Len returns the number of searchable documents of the shard.
func (r *Replica) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.store.Len()
}

// Info returns what the replica registers for its collection.
func (r *Replica) Info() Info {
	x := r.store.Index()
	return Info{Shards: r.spec.N, Model: x.Model(), Metric: string(x.Metric()), Dim: x.Dim(), Kind: string(x.Kind())}
}

// Close saves what was applied and not saved yet, and closes the index.
func (r *Replica) Close() error {
	err := r.save()
	if cerr := r.store.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *Replica) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// Run registers the replica's collection, catches up with the shard's
// updates in the stream (from the sequence after the one its StateFile
// records), then answers the shard's queries in its queue group and keeps
// applying updates until ctx ends. ready, if not nil, is called once it
// answers queries.
func (r *Replica) Run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, ready func()) error {
	coll, i := r.opts.Collection, r.spec.I
	var stream jetstream.Stream
	var last uint64
	err := retry(ctx, func(ctx context.Context) error {
		kv, err := bucket(ctx, js, r.opts.Replicas)
		if err != nil {
			return err
		}
		if err := register(ctx, kv, coll, r.Info(), r.store.Index().NextID()); err != nil {
			return err
		}
		if stream, err = ensureStream(ctx, js, coll, r.opts.Replicas); err != nil {
			return err
		}
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("shard: stream %s: %w", streamName(coll), err)
		}
		id := info.Created.UTC().Format(time.RFC3339Nano)
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case r.stream != "" && r.stream != id:
			return fmt.Errorf("shard: %s applied updates up to sequence %d of stream %s created %s, but that stream was created %s (deleted and made again?): its sequences are not the ones %s counts; serve a fresh copy of the shard (loupe shard split) or remove %s to apply the whole new stream",
				r.dir, r.applied.Load(), streamName(coll), r.stream, id, StateFile, StateFile)
		case r.stream == "" && r.applied.Load() > info.State.LastSeq:
			return fmt.Errorf("shard: %s applied updates up to sequence %d, but stream %s holds %d messages: it is not the stream this shard followed",
				r.dir, r.applied.Load(), streamName(coll), info.State.LastSeq)
		}
		r.stream = id
		// The last update for this shard now: answering starts once it
		// is applied.
		m, err := stream.GetLastMsgForSubject(ctx, docsSubject(coll, i))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return fmt.Errorf("shard: stream %s: %w", streamName(coll), err)
		default:
			last = m.Sequence
		}
		return nil
	})
	if err != nil {
		return err
	}
	caught := make(chan struct{})
	var once sync.Once
	if r.applied.Load() >= last {
		once.Do(func() { close(caught) })
	}
	// Follow the stream until Run ends; when following fails (the
	// consumer lost with a NATS node, say), start again after the last
	// update applied.
	fctx, stopFollowing := context.WithCancel(ctx)
	applyDone := make(chan struct{})
	go func() {
		defer close(applyDone)
		for {
			err := r.follow(fctx, js, func(seq uint64) {
				if seq >= last {
					once.Do(func() { close(caught) })
				}
			})
			if fctx.Err() != nil {
				return
			}
			r.logf("shard %d: following stream %s: %v; resuming after sequence %d", i, streamName(coll), err, r.applied.Load())
			select {
			case <-time.After(250 * time.Millisecond):
			case <-fctx.Done():
				return
			}
		}
	}()
	defer func() {
		stopFollowing()
		<-applyDone
	}()
	select {
	case <-caught:
	case <-ctx.Done():
		return nil
	}
	r.logf("shard %d/%d: %d documents, updates applied up to sequence %d", i, r.spec.N, r.Len(), r.applied.Load())
	sem := make(chan struct{}, 4*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var closing sync.Mutex // held to start an answer, and to stop
	closed := false
	sub, err := nc.QueueSubscribe(searchSubject(coll, i), queueGroup(i), func(m *nats.Msg) {
		sem <- struct{}{}
		closing.Lock()
		if closed {
			closing.Unlock()
			<-sem
			return
		}
		wg.Add(1)
		closing.Unlock()
		go func() {
			defer func() { <-sem; wg.Done() }()
			b := r.answer(ctx, m.Data)
			m.Respond(b)
		}()
	})
	if err != nil {
		return fmt.Errorf("shard: subscribing to %s: %w", searchSubject(coll, i), err)
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil && ctx.Err() == nil {
		sub.Unsubscribe()
		return fmt.Errorf("shard: subscribing to %s: %w", searchSubject(coll, i), err)
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	sub.Unsubscribe()
	closing.Lock()
	closed = true
	closing.Unlock()
	wg.Wait()
	return nil
}

// follow applies the shard's updates from the stream, from the one after
// the last applied, until ctx ends or the consumer fails; applied is
// called with each sequence applied.
//
// The consumer is an ephemeral pull consumer of the shard's subject, made
// afresh (with a short timeout) each time following starts, and dropped
// at the first sign of trouble: an error or a missed heartbeat (1 s) from
// the iterator, or a gap in its delivery sequence. Run starts again after
// the last update applied, so no update is missed or applied twice
// whatever the consumer lost (a NATS node, a leader election).
func (r *Replica) follow(ctx context.Context, js jetstream.JetStream, applied func(seq uint64)) error {
	coll := r.opts.Collection
	cfg := jetstream.ConsumerConfig{
		FilterSubject: docsSubject(coll, r.spec.I), AckPolicy: jetstream.AckNonePolicy,
		MemoryStorage: true, Replicas: 1, InactiveThreshold: 30 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if a := r.applied.Load(); a > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, a+1
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	cons, err := js.CreateConsumer(cctx, streamName(coll), cfg)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		js.DeleteConsumer(dctx, streamName(coll), cons.CachedInfo().Name)
		cancel()
	}()
	it, err := cons.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	var delivered uint64
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Consumer != delivered+1 {
			return fmt.Errorf("consumer delivered message %d after %d", meta.Sequence.Consumer, delivered)
		}
		delivered = meta.Sequence.Consumer
		if meta.Sequence.Stream <= r.applied.Load() {
			continue
		}
		r.apply(meta.Sequence.Stream, msg.Data())
		if meta.NumPending == 0 || r.sinceSave() >= r.opts.SaveInterval {
			if err := r.save(); err != nil {
				r.logf("shard %d: saving %s: %v", r.spec.I, r.dir, err)
			}
		}
		applied(meta.Sequence.Stream)
	}
}

// apply applies one update of sequence seq. Every replica applies the same
// updates in the same order, and re-applying an update already applied
// (after a crash between saving the index and its StateFile) leaves the
// same index: an add sets each id's vector and metadata, a delete marks
// ids deleted and ignores ids that are not there.
func (r *Replica) apply(seq uint64, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		r.applied.Store(seq)
		r.dirty = true
	}()
	u, err := decodeUpdate(data)
	if err != nil {
		r.logf("shard %d: skipping update %d: %v", r.spec.I, seq, err)
		return
	}
	for _, id := range u.IDs {
		if ShardOf(id, r.spec.N) != r.spec.I {
			r.logf("shard %d: skipping update %d: id %d belongs to shard %d", r.spec.I, seq, id, ShardOf(id, r.spec.N))
			return
		}
	}
	switch u.Op {
	case opAdd:
		vecs, _ := floats(u.Vectors, len(u.IDs), u.Dim)
		err = r.store.AddBatch(index.Batch{IDs: u.IDs, Vectors: vecs, Dim: u.Dim, Meta: u.Meta})
	case opDelete:
		var ids []uint64
		for _, id := range u.IDs {
			if r.store.Index().Has(id) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			err = r.store.Delete(ids...)
		}
	}
	if err != nil {
		r.logf("shard %d: update %d (%s of %d ids) failed on every replica alike: %v", r.spec.I, seq, u.Op, len(u.IDs), err)
	}
}

// sinceSave returns the time since the last save.
func (r *Replica) sinceSave() time.Duration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return time.Since(r.lastSave)
}

// save writes the index and then the StateFile with the sequence applied,
// when updates were applied since the last save.
func (r *Replica) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty {
		return nil
	}
	st := State{Shard: r.spec.I, Shards: r.spec.N, Collection: r.opts.Collection, Applied: r.applied.Load(), Stream: r.stream}
	if err := r.store.Save(r.dir); err != nil {
		return err
	}
	if err := WriteState(r.dir, st); err != nil {
		return err
	}
	r.dirty, r.lastSave = false, time.Now()
	return nil
}

// answer searches for the query in data and returns the encoded response.
func (r *Replica) answer(ctx context.Context, data []byte) []byte {
	resp := response{Shard: r.spec.I, Replica: r.opts.Name}
	req, vecs, opts, err := decodeRequest(data)
	switch {
	case err == nil && req.StatsOnly:
		var st search.LexicalStats
		st, resp.Applied, err = r.LexicalStats(req.Questions)
		resp.Stats = &st
	case err == nil:
		opts.Threads = r.opts.Threads
		resp.Hits, resp.Lexical, resp.Applied, err = r.Search(ctx, req.Questions, vecs, opts)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	lexical := resp.Lexical
	if opts.Mode == search.ModeBM25 {
		lexical = resp.Hits
	}
	for _, hits := range lexical {
		exact := make([]float64, len(hits))
		for i := range hits {
			exact[i] = hits[i].ExactScore()
		}
		resp.Exact = append(resp.Exact, exact)
	}
	// The text is in the metadata too: send it once (Merge restores it).
	for _, lists := range [][][]search.Hit{resp.Hits, resp.Lexical} {
		for _, hits := range lists {
			for i := range hits {
				if hits[i].Metadata != nil {
					hits[i].Text = ""
				}
			}
		}
	}
	b, _ := json.Marshal(resp)
	return b
}

// Search searches the replica's shard for the questions (embedded as
// vectors, or not in bm25 mode) with opts. In dense and bm25 mode it
// returns the hits of each question; in hybrid mode the opts.K best of its
// dense ranking as hits and of its BM25 ranking as lexical, which the
// gateway merges over the shards before fusing them. applied is the stream
// sequence of the updates the answer reflects. An empty shard has no hits.
func (r *Replica) Search(ctx context.Context, questions []string, vectors [][]float32, opts search.SearchOptions) (hits, lexical [][]search.Hit, applied uint64, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	applied = r.applied.Load()
	if r.store.Len() == 0 {
		hits = make([][]search.Hit, len(questions))
		if opts.Mode == search.ModeHybrid {
			lexical = make([][]search.Hit, len(questions))
		}
		return hits, lexical, applied, nil
	}
	if opts.Mode != search.ModeHybrid {
		res, err := r.store.SearchEmbedded(ctx, questions, vectors, opts)
		if err != nil {
			return nil, nil, 0, err
		}
		return res.Hits, nil, applied, nil
	}
	dense := search.SearchOptions{K: opts.K, Ef: opts.Ef, Filter: opts.Filter, Threads: opts.Threads}
	lex := search.SearchOptions{K: opts.K, Filter: opts.Filter, Mode: search.ModeBM25, K1: opts.K1, B: opts.B, Threads: opts.Threads, Stats: opts.Stats}
	d, err := r.store.SearchEmbedded(ctx, questions, vectors, dense)
	if err != nil {
		return nil, nil, 0, err
	}
	l, err := r.store.SearchEmbedded(ctx, questions, nil, lex)
	if errors.Is(err, search.ErrNoText) {
		l, err = &search.Result{Hits: make([][]search.Hit, len(questions))}, nil
	}
	if err != nil {
		return nil, nil, 0, err
	}
	return d.Hits, l.Hits, applied, nil
}

// LexicalStats returns the shard's BM25 statistics for the questions'
// terms (search.Store.LexicalStats) and the stream sequence they reflect.
func (r *Replica) LexicalStats(questions []string) (search.LexicalStats, uint64, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(questions) == 0 {
		// A status ping: the document count, without building the
		// BM25 index.
		return search.LexicalStats{Docs: int64(r.store.Len())}, r.applied.Load(), nil
	}
	st, err := r.store.LexicalStats(questions)
	return st, r.applied.Load(), err
}

// IDs returns the ids of the shard's searchable documents, in slot order.
func (r *Replica) IDs() []uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.store.Index().IDs()
}
