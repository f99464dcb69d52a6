package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/natsconn"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/server"
	"github.com/loupe-ml/loupe/shard"
)

// shardFlags hold the flags of the sharded-collection modes of serve,
// search and index add/delete, and of shard split.
var shardFlags struct {
	nats         natsconn.Options
	collection   string
	shard        string
	shards       int
	shardTimeout time.Duration
	requireAll   bool
	bm25Stats    string
	threads      int
	replicas     int
	out          string
	overwrite    bool
}

var shardCmd = &cobra.Command{
	Use:   "shard",
	Short: "Split an index into shards for sharded, replicated search over NATS",
	Long: `A collection too large or too busy for one machine is split into N shards,
each served by any number of replicas ("loupe serve --index DIR --shard I/N
--nats URL"); "loupe search --nats URL" sends a question to every shard and
merges the answers; "loupe index add --nats URL" publishes documents to the
collection's JetStream stream, which every replica applies. See docs/cluster.md.`,
}

var shardSplitCmd = &cobra.Command{
	Use:   "split --index DIR --shards N --out PREFIX",
	Short: "Split an index directory into N shard directories PREFIX-0 … PREFIX-(N-1)",
	Long: `Split an index directory into N shard directories PREFIX-0 … PREFIX-(N-1):
each document goes to shard splitmix64(id) mod N, with its vector (bit for
bit), id and metadata, into an index of the same kind, metric, parameters and
model. Each shard directory gets a shard.json saying which shard it is; copy
it to as many machines as you want replicas.`,
	Example: `  loupe shard split --index docs.idx --shards 4 --out shards/docs
  loupe serve --index shards/docs-0 --shard 0/4 --nats nats://127.0.0.1:4222`,
	Args: cobra.NoArgs,
	RunE: runShardSplit,
}

var shardStatusCmd = &cobra.Command{
	Use:   "status --nats URL [--collection C]",
	Short: "Show a sharded collection: its registration, and per shard a live replica's state",
	Long: `Show what the shards of a collection registered (shard count, model, metric,
dimension, kind) and, per shard, the replica that answered a ping (NATS picks
one of the queue group), its documents, the stream sequence it has applied and
the stream's last update for the shard; a shard with no live replica is shown
missing, and the command exits 1.`,
	Example: `  loupe shard status --nats nats://127.0.0.1:4222 --collection docs --format json`,
	Args:    cobra.NoArgs,
	RunE:    runShardStatus,
}

func init() {
	sf := shardStatusCmd.Flags()
	addNATSFlags(sf, &shardFlags.nats)
	sf.StringVar(&shardFlags.collection, "collection", shard.DefaultCollection, "name of the sharded collection")
	sf.DurationVar(&shardFlags.shardTimeout, "shard-timeout", shard.DefaultShardTimeout, "how long to wait for each shard")
	shardCmd.AddCommand(shardStatusCmd)
	f := shardSplitCmd.Flags()
	f.StringVar(&ixFlags.index, "index", "", "index directory to split (required)")
	f.IntVar(&shardFlags.shards, "shards", 0, "number of shards (required)")
	f.StringVar(&shardFlags.out, "out", "", "prefix of the shard directories: PREFIX-0 … (required)")
	f.BoolVar(&shardFlags.overwrite, "overwrite", false, "replace indexes already in the shard directories")
	shardCmd.AddCommand(shardSplitCmd)
	rootCmd.AddCommand(shardCmd)

	addShardClientFlags(searchCmd.Flags(), true)
	for _, c := range indexCmd.Commands() {
		if c.Name() == "add" || c.Name() == "delete" {
			addShardClientFlags(c.Flags(), false)
		}
	}
	f = serveCmd.Flags()
	addNATSFlags(f, &shardFlags.nats)
	f.StringVar(&shardFlags.collection, "collection", shard.DefaultCollection, "name of the sharded collection (with --nats)")
	f.StringVar(&serveFlags.index, "index", "", "serve this shard directory over NATS (with --shard I/N and --nats) instead of a GPT-2")
	f.StringVar(&shardFlags.shard, "shard", "", "which shard --index is: I/N, I from 0 (default: the shard.json that loupe shard split wrote)")
	f.IntVar(&shardFlags.replicas, "replicas", 0, "replicas of the collection's JetStream stream and bucket when this creates them (0: 3 where the cluster can place them, else 1)")
	f.DurationVar(&shardFlags.shardTimeout, "shard-timeout", shard.DefaultShardTimeout, "with --index and --addr: how long /api/search waits for each shard")
	f.IntVar(&shardFlags.threads, "threads", 0, "with --index: threads per search (0: all cores; 1 where several shards share a machine's cores)")
}

// addShardClientFlags registers --nats (and its credentials) and
// --collection on a command that also works on one machine; search gets
// the scatter-gather flags too.
func addShardClientFlags(f *pflag.FlagSet, searching bool) {
	addNATSFlags(f, &shardFlags.nats)
	f.Lookup("nats").Usage = "search or change a sharded collection through this NATS server or cluster instead of --index"
	f.StringVar(&shardFlags.collection, "collection", shard.DefaultCollection, "name of the sharded collection (with --nats)")
	if searching {
		f.IntVar(&shardFlags.shards, "shards", 0, "number of shards (with --nats; default: as the shards registered)")
		f.DurationVar(&shardFlags.shardTimeout, "shard-timeout", shard.DefaultShardTimeout, "with --nats: how long to wait for each shard; a shard with no answer is reported missing")
		f.BoolVar(&shardFlags.requireAll, "require-all", false, "with --nats: exit non-zero when a shard is missing from the answer")
		f.StringVar(&shardFlags.bm25Stats, "bm25-stats", "global", "with --nats, bm25 and hybrid: global (a first round sums the shards' statistics: the scores of one machine) or shard (each shard's own: one round, approximate)")
	}
}

func runShardSplit(cmd *cobra.Command, args []string) error {
	const name = "shard split"
	if ixFlags.index == "" || shardFlags.out == "" || shardFlags.shards < 1 {
		return fmt.Errorf("%s: give --index DIR, --shards N (1 or more) and --out PREFIX", name)
	}
	res, err := shard.Split(ixFlags.index, shardFlags.shards, shardFlags.out, shard.SplitOptions{Overwrite: shardFlags.overwrite, Waiting: waiting(cmd, shardFlags.out)})
	if errors.Is(err, search.ErrIndexExists) {
		return fmt.Errorf("%s: %s; pass --overwrite to replace them", name, trimPkg(err))
	}
	if err != nil {
		return cmdError(name, err)
	}
	return jsonOrText(cmd.OutOrStdout(), res, func(w io.Writer) error {
		for i, d := range res.Dirs {
			fmt.Fprintf(w, "shard %d/%d: %d documents in %s\n", i, len(res.Dirs), res.Counts[i], d)
		}
		return nil
	})
}

// shardClient connects to NATS and returns a client of the collection
// for command name; done closes both.
func shardClient(ctx context.Context, name string, model string, embedOpts embed.Options) (*shard.Client, func(), error) {
	if s := shardFlags.bm25Stats; s != "" && s != "global" && s != "shard" {
		return nil, nil, fmt.Errorf("%s: --bm25-stats %q: want global or shard", name, s)
	}
	nc, js, err := connectJetStream(ctx, name, shardFlags.nats)
	if err != nil {
		return nil, nil, err
	}
	c, err := shard.NewClient(ctx, nc, js, shard.ClientOptions{Collection: shardFlags.collection, Shards: shardFlags.shards,
		Model: model, Embed: embedOpts, ShardTimeout: shardFlags.shardTimeout, ShardBM25Stats: shardFlags.bm25Stats == "shard"})
	if err != nil {
		nc.Close()
		return nil, nil, cmdError(name, err)
	}
	return c, func() { c.Close(); nc.Close() }, nil
}

// searchNATS is loupe search --nats: scatter-gather over the collection's
// shards.
func searchNATS(cmd *cobra.Command, questions []string, opts search.SearchOptions) error {
	c, done, err := shardClient(cmd.Context(), "search", searchFlags.model, embedOptions(searchFlags.batchSize, 0, searchFlags.quantize))
	if err != nil {
		return err
	}
	defer done()
	res, err := c.Search(cmd.Context(), questions, opts)
	if err != nil {
		return cmdError("search", err)
	}
	out, metric := cmd.OutOrStdout(), c.Info().Metric
	if jsonOutput() {
		// loupe search's lines, each with the shards that answered.
		err = writeShardJSON(out, res, questions, c.Info())
	} else {
		err = res.WriteText(out, questions, index.Metric(metric))
	}
	if err != nil {
		return err
	}
	if !res.Complete() {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: warning: partial answer: %v\n", res.Err())
		if shardFlags.requireAll {
			return fmt.Errorf("search: --require-all: %w", res.Err())
		}
	}
	return nil
}

// writeShardJSON writes one line per question, as loupe search
// --format json does, with "shards", "partial" and "missing" added.
func writeShardJSON(w io.Writer, res *shard.Result, questions []string, info shard.Info) error {
	missing := res.Missing
	if missing == nil {
		missing = []shard.Missing{}
	}
	for qi, hits := range res.Hits {
		line := map[string]any{"query": questions[qi], "model": info.Model, "metric": info.Metric, "mode": res.Mode, "results": hits,
			"embed_seconds": res.EmbedSeconds, "search_seconds": res.SearchSeconds,
			"shards": res.Shards, "partial": !res.Complete(), "missing": missing, "applied": res.Applied}
		if res.Fusion != "" {
			line["fusion"] = res.Fusion
		}
		if err := writeJSON(w, line); err != nil {
			return err
		}
	}
	return nil
}

// addNATS is loupe index add --nats: documents embedded here and
// published to the collection's stream.
func addNATS(cmd *cobra.Command) error {
	const name = "index add"
	if ixFlags.input == "" {
		return fmt.Errorf("%s: --nats takes documents (--input FILE), embedded here with the collection's model", name)
	}
	docs, err := embed.ReadRecordsFile(ixFlags.input, embed.ReadOptions{})
	if err != nil {
		return cmdError(name, err)
	}
	c, done, err := shardClient(cmd.Context(), name, "", embedOptions(ixFlags.batchSize, 0, ixFlags.quantize))
	if err != nil {
		return err
	}
	defer done()
	pub, err := c.Add(cmd.Context(), docs)
	if err != nil {
		return cmdError(name, err)
	}
	return jsonOrLine(cmd.OutOrStdout(), pub, "published %d documents (ids %d…) in %d messages to collection %s, up to stream sequence %d\n",
		len(pub.IDs), pub.IDs[0], pub.Messages, shardFlags.collection, pub.Last)
}

// deleteNATS is loupe index delete --nats.
func deleteNATS(cmd *cobra.Command, ids []uint64) error {
	const name = "index delete"
	c, done, err := shardClient(cmd.Context(), name, "", embed.Options{})
	if err != nil {
		return err
	}
	defer done()
	pub, err := c.Delete(cmd.Context(), ids)
	if err != nil {
		return cmdError(name, err)
	}
	return jsonOrLine(cmd.OutOrStdout(), pub, "published the deletion of %d ids in %d messages to collection %s, up to stream sequence %d\n",
		len(ids), pub.Messages, shardFlags.collection, pub.Last)
}

// serveShard is loupe serve --index DIR: one replica of one shard, until
// SIGINT or SIGTERM; with --addr, also the HTTP search API.
func serveShard(cmd *cobra.Command) error {
	var spec shard.Spec
	if shardFlags.shard != "" {
		var err error
		if spec, err = shard.ParseSpec(shardFlags.shard); err != nil {
			return fmt.Errorf("--shard: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := log.New(os.Stderr, "loupe serve: ", log.LstdFlags)
	r, err := shard.OpenReplica(serveFlags.index, shard.ReplicaOptions{Collection: shardFlags.collection, Shard: spec, Replicas: shardFlags.replicas, Threads: shardFlags.threads, Logf: logger.Printf})
	if err != nil {
		return err
	}
	defer r.Close()
	o := shardFlags.nats
	o.Name = fmt.Sprintf("loupe serve shard %s", r.Shard())
	nc, js, err := natsconn.ConnectJetStream(ctx, o)
	if err != nil {
		return err
	}
	defer nc.Close()
	errc := make(chan error, 2)
	go func() {
		errc <- r.Run(ctx, nc, js, func() {
			jsonOrLine(os.Stdout, map[string]any{"shard": r.Shard().I, "shards": r.Shard().N, "collection": shardFlags.collection, "documents": r.Len(), "applied": r.Applied()},
				"serving shard %s of collection %s (%d documents, updates applied up to sequence %d) through %s (Ctrl-C to stop)\n",
				r.Shard(), shardFlags.collection, r.Len(), r.Applied(), nc.ConnectedUrlRedacted())
		})
		stop()
	}()
	if cmd.Flags().Changed("addr") {
		c, err := shard.NewClient(ctx, nc, js, shard.ClientOptions{Collection: shardFlags.collection, Embed: embed.Options{Client: hubClient()}, ShardTimeout: shardFlags.shardTimeout})
		if err != nil {
			stop()
			<-errc
			return err
		}
		defer c.Close()
		opt := serveFlags.opt
		opt.Logger, opt.Addr = logger, serveFlags.addr
		if !cmd.Flags().Changed("max-concurrent") {
			opt.MaxConcurrent = 0 // the search API's default, not generation's
		}
		err = server.ListenAndServeSearch(ctx, c, opt, func(url string) {
			jsonOrLine(os.Stdout, map[string]string{"url": url}, "search API at %sapi/search\n", url)
		})
		stop()
		if rerr := <-errc; err == nil {
			err = rerr
		}
		return err
	}
	return <-errc
}

func runShardStatus(cmd *cobra.Command, args []string) error {
	const name = "shard status"
	c, done, err := shardClient(cmd.Context(), name, "", embed.Options{})
	if err != nil {
		return err
	}
	defer done()
	st, err := c.Status(cmd.Context())
	if err != nil {
		return cmdError(name, err)
	}
	info := c.Info()
	err = jsonOrText(cmd.OutOrStdout(), map[string]any{"collection": shardFlags.collection, "info": info, "shards": st}, func(w io.Writer) error {
		fmt.Fprintf(w, "collection %s: %d shards, model %s, %d-d %s, %s index\n", shardFlags.collection, info.Shards, info.Model, info.Dim, info.Metric, info.Kind)
		for _, s := range st {
			if s.Missing != "" {
				fmt.Fprintf(w, "shard %d: MISSING: %s (stream at %d)\n", s.Shard, s.Missing, s.Last)
				continue
			}
			lag := ""
			if s.Applied < s.Last {
				lag = fmt.Sprintf(", %d behind", s.Last-s.Applied)
			}
			fmt.Fprintf(w, "shard %d: %d documents, replica %s applied %d of %d%s\n", s.Shard, s.Docs, s.Replica, s.Applied, s.Last, lag)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range st {
		if s.Missing != "" {
			return fmt.Errorf("%s: shard %d has no live replica", name, s.Shard)
		}
	}
	return nil
}
