package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	_ "github.com/loupe-ml/loupe/defaults" // the built-in models resolve offline, as loupe search resolves them
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/search"
)

// DefaultShardTimeout is how long a query waits for a shard's answer by
// default.
const DefaultShardTimeout = 2 * time.Second

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Collection names the collection (default DefaultCollection).
	Collection string
	// Shards, if not 0, is the number of shards; by default the number the
	// shards registered.
	Shards int
	// Model, if set, replaces the embedding model the shards registered
	// (the index's recorded model) for embedding questions and documents.
	Model string
	// Embed are the embedding model's options.
	Embed embed.Options
	// ShardTimeout is how long a query waits for each shard (default
	// DefaultShardTimeout), in each of its rounds. A shard that no replica
	// answers in time is missing from the result.
	ShardTimeout time.Duration
	// ShardBM25Stats scores BM25 (bm25 and hybrid modes) with each
	// shard's own statistics: one round of requests instead of two, and
	// scores that differ from one machine's (see the package
	// documentation). By default a first round gathers the shards'
	// statistics and every shard scores with their sums.
	ShardBM25Stats bool
}

// Client is a gateway to a sharded collection: it embeds questions once,
// scatters them to every shard, gathers and merges the answers (Search),
// and publishes adds and deletes to the collection's stream (Add, Delete).
// It is safe for concurrent use.
type Client struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts ClientOptions
	info Info

	mu    sync.Mutex
	model *embed.Model

	latency []atomic.Int64 // per shard: moving average of answer times, ns
}

// NewClient returns a client of opts.Collection, reading what its shards
// registered (or, when none has and opts.Shards is set, assuming that many
// shards: enough for bm25 searches).
func NewClient(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, opts ClientOptions) (*Client, error) {
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if err := checkName(opts.Collection); err != nil {
		return nil, err
	}
	if opts.ShardTimeout <= 0 {
		opts.ShardTimeout = DefaultShardTimeout
	}
	if opts.Shards < 0 {
		return nil, &search.OptionError{Field: "Shards", Value: opts.Shards, Allowed: "0 (as registered) or more"}
	}
	info, err := GetInfo(ctx, js, opts.Collection)
	switch {
	case err != nil && opts.Shards == 0:
		return nil, err
	case err != nil:
		info = Info{Shards: opts.Shards}
	case opts.Shards != 0 && opts.Shards != info.Shards:
		return nil, fmt.Errorf("shard: collection %s registered %d shards, not %d", opts.Collection, info.Shards, opts.Shards)
	}
	if opts.Model != "" {
		info.Model = opts.Model
	}
	return &Client{nc: nc, js: js, opts: opts, info: info, latency: make([]atomic.Int64, info.Shards)}, nil
}

// Info returns the collection's registration (with ClientOptions.Model
// as its model when given).
func (c *Client) Info() Info { return c.info }

// Close releases the embedding model (the connection is the caller's).
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.model != nil {
		c.model.Close()
		c.model = nil
	}
}

// embedder returns the embedding model, loading it on first use.
func (c *Client) embedder(ctx context.Context) (*embed.Model, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.model != nil {
		return c.model, nil
	}
	if c.info.Model == "" {
		return nil, fmt.Errorf("shard: collection %s records no embedding model: %w", c.opts.Collection, search.ErrNoModel)
	}
	m, err := embed.LoadWith(ctx, c.info.Model, c.opts.Embed)
	if err != nil {
		return nil, err
	}
	if c.info.Dim != 0 && m.Dim() != c.info.Dim {
		m.Close()
		return nil, fmt.Errorf("shard: model %s makes %d-d vectors, collection %s holds %d-d ones", c.info.Model, m.Dim(), c.opts.Collection, c.info.Dim)
	}
	c.model = m
	return m, nil
}

// Missing is a shard missing from a result, and why.
type Missing struct {
	Shard  int    `json:"shard"`
	Reason string `json:"reason"`
}

// Result is a sharded search's answer: search.Result's hits, merged over
// the shards that answered, and the shards that did not.
type Result struct {
	search.Result
	// Shards is the number of shards of the collection.
	Shards int
	// Missing lists the shards that gave no answer (no live replica, or
	// none within the shard timeout, or an error), in shard order: the
	// hits then come from the other shards only. Empty when complete.
	Missing []Missing
	// Applied is, per shard, the stream sequence of the updates its
	// answer reflects (0 for a missing shard).
	Applied []uint64
	// Replicas names, per shard, the replica that answered.
	Replicas []string
}

// Complete reports whether every shard answered.
func (r *Result) Complete() bool { return len(r.Missing) == 0 }

// MissingShards returns the numbers of the missing shards.
func (r *Result) MissingShards() []int {
	var out []int
	for _, m := range r.Missing {
		out = append(out, m.Shard)
	}
	return out
}

// ErrIncomplete is wrapped by Result.Err when shards are missing.
var ErrIncomplete = errors.New("shards missing from the result")

// Err returns nil when every shard answered, else an error wrapping
// ErrIncomplete that names the missing shards and why they are missing.
func (r *Result) Err() error {
	if r.Complete() {
		return nil
	}
	msg := ""
	for i, m := range r.Missing {
		if i > 0 {
			msg += "; "
		}
		msg += fmt.Sprintf("shard %d: %s", m.Shard, m.Reason)
	}
	return fmt.Errorf("%w: %d of %d (%s)", ErrIncomplete, len(r.Missing), r.Shards, msg)
}

// Search embeds the questions once (dense and hybrid modes) with the
// collection's model, sends them to every shard, waits up to the shard
// timeout for each, and merges the answers into the opts.K best of each
// question: exactly the hits, scores and order of a search.Store holding
// the whole collection in one flat index (dense: nearest first, equal
// distances by id; bm25 and hybrid: scored with the shards' summed BM25
// statistics, gathered in a first round, unless ShardBM25Stats). Shards
// that do not answer are listed in Result.Missing; the error is reserved
// for failures of the whole search (bad options, the model, every shard
// refusing the query alike).
func (c *Client) Search(ctx context.Context, questions []string, opts search.SearchOptions) (*Result, error) {
	return c.search(ctx, questions, opts, -1)
}

// SearchShard is Search asking shard i alone: its own best hits, merged
// as Search merges, BM25 with the shard's own statistics (for measuring
// what the scatter-gather adds to one shard's latency, and for looking at
// one shard). Result.Shards is 1.
func (c *Client) SearchShard(ctx context.Context, i int, questions []string, opts search.SearchOptions) (*Result, error) {
	if i < 0 || i >= c.info.Shards {
		return nil, fmt.Errorf("shard: collection %s has no shard %d (it has %d)", c.opts.Collection, i, c.info.Shards)
	}
	return c.search(ctx, questions, opts, i)
}

// search is Search over every shard (only < 0) or shard only.
func (c *Client) search(ctx context.Context, questions []string, opts search.SearchOptions, only int) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(questions) == 0 {
		return nil, errors.New("shard: search: no questions")
	}
	if err := embed.CheckUTF8(questions); err != nil {
		return nil, err
	}
	mode := opts.Mode
	if mode == "" {
		mode = search.ModeDense
	}
	res := &Result{Result: search.Result{Mode: mode}, Shards: c.info.Shards}
	if mode == search.ModeHybrid {
		res.Fusion = opts.Fusion
		if res.Fusion == "" {
			res.Fusion = search.FusionRRF
		}
	}
	req := request{Questions: questions, K: opts.K, Ef: opts.Ef, Mode: string(mode), K1: opts.K1, B: opts.B}
	for _, f := range opts.Filter {
		req.Conditions = append(req.Conditions, f.String())
	}
	if mode == search.ModeHybrid {
		req.K = max(opts.K, opts.Candidates, search.DefaultCandidates)
		if opts.Candidates != 0 {
			req.K = max(opts.K, opts.Candidates)
		}
	}
	if mode != search.ModeBM25 {
		m, err := c.embedder(ctx)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		vecs, err := m.Embed(questions)
		if err != nil {
			return nil, err
		}
		res.EmbedSeconds = time.Since(start).Seconds()
		req.Dim, req.Vectors = m.Dim(), putFloats(vecs...)
	}
	start := time.Now()
	var skip map[int]string
	if mode != search.ModeDense && only < 0 && !c.opts.ShardBM25Stats {
		// First round: the shards' BM25 statistics, summed. A shard that
		// does not give them is left out of the second round (its
		// scores would not be on the others' scale).
		st, missing, err := c.lexicalStats(ctx, questions)
		if err != nil {
			return nil, err
		}
		req.Stats, skip = st, missing
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var answers []answer
	if only >= 0 {
		answers, res.Shards = []answer{c.ask(ctx, only, data)}, 1
	} else {
		answers = c.scatter(ctx, data, skip)
	}
	res.Applied, res.Replicas = make([]uint64, len(answers)), make([]string, len(answers))
	var errs []string
	for i, a := range answers {
		if only >= 0 {
			i = only
		}
		switch {
		case a.err != nil:
			res.Missing = append(res.Missing, Missing{i, a.err.Error()})
		case a.resp.Error != "":
			res.Missing = append(res.Missing, Missing{i, "shard error: " + a.resp.Error})
			errs = append(errs, a.resp.Error)
		case len(a.resp.Hits) != len(questions) || mode == search.ModeHybrid && len(a.resp.Lexical) != len(questions):
			res.Missing = append(res.Missing, Missing{i, fmt.Sprintf("answered %d lists for %d questions", len(a.resp.Hits), len(questions))})
		case only >= 0:
			res.Applied[0], res.Replicas[0] = a.resp.Applied, a.resp.Replica
		default:
			res.Applied[i], res.Replicas[i] = a.resp.Applied, a.resp.Replica
		}
	}
	if len(errs) == len(answers) && len(errs) > 0 {
		// Every shard refused the query: it is the query that is wrong.
		return nil, fmt.Errorf("shard: search: %s", errs[0])
	}
	res.Hits = make([][]search.Hit, len(questions))
	for q := range questions {
		var lists, lexical [][]search.Hit
		for _, a := range answers {
			if a.err == nil && a.resp.Error == "" && len(a.resp.Hits) == len(questions) {
				lists = append(lists, a.resp.Hits[q])
				if mode == search.ModeHybrid && len(a.resp.Lexical) == len(questions) {
					lexical = append(lexical, a.resp.Lexical[q])
				}
			}
		}
		switch mode {
		case search.ModeHybrid:
			res.Hits[q] = search.FuseHits(Merge(search.ModeDense, lists, req.K), Merge(search.ModeBM25, lexical, req.K), opts.K, opts)
		default:
			res.Hits[q] = Merge(mode, lists, opts.K)
		}
	}
	res.SearchSeconds = time.Since(start).Seconds()
	return res, nil
}

// Merge merges the hit lists of shards (each best first) into the k best,
// ranked from 1: by distance then id in dense mode (the order of
// search.CanonicalOrder), by BM25 score (higher first) then id in bm25
// mode.
func Merge(mode search.Mode, lists [][]search.Hit, k int) []search.Hit {
	all := []search.Hit{} // [] in JSON when nothing matches
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b search.Hit) int {
		if mode == search.ModeBM25 {
			switch x, y := a.ExactScore(), b.ExactScore(); {
			case x > y:
				return -1
			case x < y:
				return 1
			}
		} else {
			switch {
			case a.Distance < b.Distance:
				return -1
			case a.Distance > b.Distance:
				return 1
			}
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	all = all[:min(k, len(all))]
	for i := range all {
		all[i].Rank = i + 1
		if all[i].Text == "" && all[i].Metadata != nil {
			// Shards leave out Text, which their metadata holds.
			var doc struct {
				Text string `json:"text"`
			}
			json.Unmarshal(all[i].Metadata, &doc)
			all[i].Text = doc.Text
		}
	}
	return all
}

// answer is one shard's response or why there is none.
type answer struct {
	resp response
	err  error
}

// scatter sends the request data to every shard at once and returns
// their answers in shard order.
func (c *Client) scatter(ctx context.Context, data []byte, skip map[int]string) []answer {
	out := make([]answer, c.info.Shards)
	var wg sync.WaitGroup
	for i := range out {
		if why, ok := skip[i]; ok {
			out[i] = answer{err: errors.New(why)}
			continue
		}
		wg.Go(func() { out[i] = c.ask(ctx, i, data) })
	}
	wg.Wait()
	return out
}

// lexicalStats asks every shard for its BM25 statistics of the questions'
// terms and returns their sums, and the shards that gave none with why.
func (c *Client) lexicalStats(ctx context.Context, questions []string) (*search.LexicalStats, map[int]string, error) {
	data, err := json.Marshal(request{Questions: questions, K: 1, Mode: string(search.ModeBM25), StatsOnly: true})
	if err != nil {
		return nil, nil, err
	}
	sum := &search.LexicalStats{DF: map[string]int64{}}
	missing := map[int]string{}
	var errs []string
	for i, a := range c.scatter(ctx, data, nil) {
		switch {
		case a.err != nil:
			missing[i] = "BM25 statistics: " + a.err.Error()
		case a.resp.Error != "" || a.resp.Stats == nil:
			missing[i] = "BM25 statistics: shard error: " + a.resp.Error
			errs = append(errs, a.resp.Error)
		default:
			sum.Add(*a.resp.Stats)
		}
	}
	if len(errs) == c.info.Shards {
		return nil, nil, fmt.Errorf("shard: search: %s", errs[0])
	}
	return sum, missing, nil
}

// Hedging: an attempt still unanswered after hedgeFactor times the
// shard's usual latency (at least minHedge) is sent again, as often as
// that (up to maxAttempts, bounding the waiting goroutines), and the first
// answer of any attempt is taken. NATS picks a queue group member at
// random for each attempt, so while a dead member is still subscribed (a
// machine lost without closing its connection stays subscribed until the
// server's pings time out) each attempt has an even chance or better of
// reaching a live one.
const (
	hedgeFactor = 8
	minHedge    = 100 * time.Millisecond
	maxAttempts = 64
)

// ask sends data to shard i's queue group and waits for an answer, until
// the shard timeout. NATS gives a request to one live replica of the
// shard; a replica that dies holding it never answers, so an attempt
// unanswered for much longer than the shard usually takes (hedgeFactor
// times its moving average, at least minHedge) is sent again (NATS picks a
// replica again) while the first may still answer: under load the
// average grows with the queues, so the extra attempts stay rare instead
// of adding to the load. A shard with no subscribed replica (no
// responders) is asked again every 25ms (a replica reconnecting after a
// NATS node failed comes back).
func (c *Client) ask(ctx context.Context, i int, data []byte) answer {
	deadline := time.Now().Add(c.opts.ShardTimeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	subj := searchSubject(c.opts.Collection, i)
	type result struct {
		m    *nats.Msg
		err  error
		took time.Duration
	}
	results := make(chan result, maxAttempts)
	send := func() {
		go func() {
			start := time.Now()
			m, err := c.nc.RequestWithContext(ctx, subj, data)
			results <- result{m, err, time.Since(start)}
		}()
	}
	send()
	outstanding, sent := 1, 1
	var last error
	hedge := time.NewTimer(c.hedgeDelay(i))
	defer hedge.Stop()
	for outstanding > 0 {
		select {
		case r := <-results:
			outstanding--
			if r.err == nil {
				c.observe(i, r.took)
				var resp response
				if err := json.Unmarshal(r.m.Data, &resp); err != nil {
					return answer{err: fmt.Errorf("shard %d: bad answer: %w", i, err)}
				}
				resp.setExact()
				return answer{resp: resp}
			}
			last = r.err
			if outstanding > 0 || ctx.Err() != nil {
				continue
			}
			// No replica subscribed (no responders), or the connection is
			// reconnecting: ask again shortly.
			select {
			case <-time.After(25 * time.Millisecond):
				send()
				outstanding++
			case <-ctx.Done():
			}
		case <-hedge.C:
			if sent < maxAttempts && ctx.Err() == nil {
				send()
				outstanding, sent = outstanding+1, sent+1
				hedge.Reset(c.hedgeDelay(i))
			}
		}
	}
	if errors.Is(last, nats.ErrNoResponders) {
		return answer{err: fmt.Errorf("no live replica (none subscribed within %v)", c.opts.ShardTimeout)}
	}
	if ctx.Err() != nil && deadline.After(time.Now()) {
		return answer{err: ctx.Err()}
	}
	return answer{err: fmt.Errorf("no replica answered within %v", c.opts.ShardTimeout)}
}

// hedgeDelay returns how long an attempt on shard i waits before another
// is sent.
func (c *Client) hedgeDelay(i int) time.Duration {
	return max(minHedge, hedgeFactor*time.Duration(c.latency[i].Load()))
}

// observe adds an answer's latency to shard i's moving average (weight
// 1/8).
func (c *Client) observe(i int, took time.Duration) {
	for {
		old := c.latency[i].Load()
		avg := old + (int64(took)-old)/8
		if old == 0 {
			avg = int64(took)
		}
		if c.latency[i].CompareAndSwap(old, avg) {
			return
		}
	}
}

// ShardStatus is what Status found about one shard.
type ShardStatus struct {
	Shard int `json:"shard"`
	// Replica names the replica that answered (one of the queue group,
	// picked by NATS), Applied the stream sequence it has applied, and
	// Docs its searchable documents.
	Replica string `json:"replica,omitempty"`
	Applied uint64 `json:"applied"`
	Docs    int64  `json:"docs"`
	// Last is the stream sequence of the shard's last update (0: none):
	// Applied < Last means the replica has not applied it yet.
	Last uint64 `json:"last"`
	// Missing says why no replica answered ("" when one did).
	Missing string `json:"missing,omitempty"`
}

// Status asks every shard for a replica's state (within the shard
// timeout) and reads the stream's last update of each shard.
func (c *Client) Status(ctx context.Context) ([]ShardStatus, error) {
	data, err := json.Marshal(request{Questions: []string{}, K: 1, Mode: string(search.ModeBM25), StatsOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]ShardStatus, c.info.Shards)
	var last []uint64
	if st, err := c.js.Stream(ctx, streamName(c.opts.Collection)); err == nil {
		for i := range out {
			if m, err := st.GetLastMsgForSubject(ctx, docsSubject(c.opts.Collection, i)); err == nil {
				last = append(last, m.Sequence)
			} else {
				last = append(last, 0)
			}
		}
	}
	for i, a := range c.scatter(ctx, data, nil) {
		s := ShardStatus{Shard: i}
		if last != nil {
			s.Last = last[i]
		}
		switch {
		case a.err != nil:
			s.Missing = a.err.Error()
		case a.resp.Error != "":
			s.Missing = "shard error: " + a.resp.Error
		default:
			s.Replica, s.Applied = a.resp.Replica, a.resp.Applied
			if a.resp.Stats != nil {
				s.Docs = a.resp.Stats.Docs
			}
		}
		out[i] = s
	}
	return out, nil
}
