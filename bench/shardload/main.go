// Command shardload measures sharded search over NATS (issue 17's
// targets): what the scatter-gather adds to the latency of the slowest
// shard asked alone, and a load run of many concurrent clients.
//
//	go run ./bench/shardload -nats URL -questions FILE [-latency N] [-rounds R] [-clients C] [-duration D]
//
// The shards of the collection must be served (loupe serve --index SHARD
// --shard I/N --nats URL); bench/cluster.sh SEARCH=1 starts them. The
// questions (one per line) are asked in turn.
//
// Latency: one client, one question at a time; in each of R rounds, N
// questions to each shard alone (Client.SearchShard) and N to all shards
// (Client.Search). Both embed the question (the same cost) and go through
// NATS request/reply; the difference is the scatter to every shard, the
// wait for the slowest answer and the merge. Reports p50 and p99 of each
// and the added latency: all − slowest single shard.
//
// Load: C goroutines sharing one NATS connection ask questions for D;
// reports the queries answered, the errors (a failed or partial answer),
// the rate and the latency percentiles.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/shard"
)

func main() {
	url := flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
	coll := flag.String("collection", shard.DefaultCollection, "collection")
	qfile := flag.String("questions", "", "file of questions, one per line (required)")
	n := flag.Int("latency", 500, "questions per target per round in the latency run (0: skip it)")
	rounds := flag.Int("rounds", 3, "rounds of the latency run")
	clients := flag.Int("clients", 0, "concurrent clients of the load run (0: skip it)")
	duration := flag.Duration("duration", 10*time.Second, "length of the load run")
	k := flag.Int("k", 10, "results per question")
	mode := flag.String("mode", "dense", "dense, bm25 or hybrid")
	timeout := flag.Duration("shard-timeout", shard.DefaultShardTimeout, "per-shard timeout")
	flag.Parse()
	if err := run(*url, *coll, *qfile, *n, *rounds, *clients, *duration, search.SearchOptions{K: *k, Mode: search.Mode(*mode)}, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "shardload:", err)
		os.Exit(1)
	}
}

func run(url, coll, qfile string, n, rounds, clients int, duration time.Duration, opts search.SearchOptions, timeout time.Duration) error {
	questions, err := readLines(qfile)
	if err != nil {
		return err
	}
	ctx := context.Background()
	nc, js, err := natsconn.ConnectJetStream(ctx, natsconn.Options{URL: url, Name: "shardload"})
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := shard.NewClient(ctx, nc, js, shard.ClientOptions{Collection: coll, ShardTimeout: timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	shards := c.Info().Shards
	// Warm up: load the model, open connections, fault the indexes in.
	for i := range 50 {
		if _, err := c.Search(ctx, questions[i%len(questions):i%len(questions)+1], opts); err != nil {
			return err
		}
	}
	out := map[string]any{"shards": shards, "questions": len(questions), "k": opts.K, "mode": opts.Mode}
	if n > 0 {
		lat := make([][]time.Duration, shards+1) // shard i alone; [shards]: all
		q := 0
		for range rounds {
			for target := range lat {
				for range n {
					question := questions[q%len(questions) : q%len(questions)+1]
					q++
					start := time.Now()
					var r *shard.Result
					if target == shards {
						r, err = c.Search(ctx, question, opts)
					} else {
						r, err = c.SearchShard(ctx, target, question, opts)
					}
					d := time.Since(start)
					if err == nil {
						err = r.Err()
					}
					if err != nil {
						return fmt.Errorf("latency run: %w", err)
					}
					lat[target] = append(lat[target], d)
				}
			}
		}
		var single []map[string]float64
		slowest50, slowest99 := 0.0, 0.0
		for i := range shards {
			p50, p99 := pct(lat[i], 50), pct(lat[i], 99)
			single = append(single, map[string]float64{"p50_ms": p50, "p99_ms": p99})
			slowest50, slowest99 = max(slowest50, p50), max(slowest99, p99)
		}
		all50, all99 := pct(lat[shards], 50), pct(lat[shards], 99)
		out["latency"] = map[string]any{"per_shard": single, "all_p50_ms": all50, "all_p99_ms": all99,
			"slowest_shard_p50_ms": slowest50, "slowest_shard_p99_ms": slowest99,
			"added_p50_ms": all50 - slowest50, "added_p99_ms": all99 - slowest99, "queries_per_target": n * rounds}
	}
	if clients > 0 {
		var (
			done, failed atomic.Int64
			mu           sync.Mutex
			lat          []time.Duration
			firstErr     atomic.Value
			wg           sync.WaitGroup
		)
		end := time.Now().Add(duration)
		start := time.Now()
		for w := range clients {
			wg.Go(func() {
				var mine []time.Duration
				for i := w; time.Now().Before(end); i += clients {
					t0 := time.Now()
					r, err := c.Search(ctx, questions[i%len(questions):i%len(questions)+1], opts)
					mine = append(mine, time.Since(t0))
					if err == nil {
						err = r.Err()
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					done.Add(1)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		load := map[string]any{"clients": clients, "seconds": secs, "answered": done.Load(), "errors": failed.Load(),
			"queries_per_second": float64(done.Load()) / secs, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
		if e := firstErr.Load(); e != nil {
			load["first_error"] = e
		}
		out["load"] = load
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				out["gateway_peak_rss"] = strings.TrimSpace(v)
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// pct returns the p-th percentile of ds in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i].Microseconds()) / 1000
}

func readLines(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("give -questions FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := sc.Text(); t != "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no questions", path)
	}
	return out, sc.Err()
}
