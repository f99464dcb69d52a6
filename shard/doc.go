// Package shard is sharded, replicated search over NATS: a collection of
// documents (a search index) split into N shards, each served by any
// number of replicas, searched through any gateway, and changed through a
// JetStream stream that every replica applies in the same order.
//
// The simplest use splits an index, serves each shard, and searches:
//
//	res, err := shard.Split("docs.idx", 4, "shards/docs", shard.SplitOptions{}) // shards/docs-0 … -3
//
//	// on each replica's machine, its own copy of one shard directory:
//	r, err := shard.OpenReplica("shards/docs-2", shard.ReplicaOptions{})
//	err = r.Run(ctx, nc, js, nil) // until ctx ends
//
//	// anywhere:
//	c, err := shard.NewClient(ctx, nc, js, shard.ClientOptions{})
//	res, err := c.Search(ctx, []string{"bread from heaven"}, search.SearchOptions{K: 10})
//	if err := res.Err(); err != nil { … } // shards missing: res.Missing names them
//	pub, err := c.Add(ctx, docs)          // embedded once, applied by every replica
//
// where nc and js come from natsconn.ConnectJetStream.
//
// # Shards and replicas
//
// A document of vector id id belongs to shard ShardOf(id, N), a stable
// hash. Split writes shard I's documents, in increasing id order with
// their vectors bit for bit, into an index of the original's kind and
// options, beside a StateFile saying which shard the directory is and up
// to which stream sequence it has applied updates. A replica (Replica.Run)
// registers the collection (its shard count, model, metric, dimension and
// kind in the key-value bucket Bucket), catches up with its shard's updates
// in the collection's stream, and only then subscribes to the shard's
// query subject in the shard's queue group: NATS hands each query to one
// live member of the group.
//
// # Queries
//
// Client.Search embeds the questions once with the registered model and
// sends them to every shard at once; each shard answers with its own best
// k; the client merges them. Dense hits are merged by distance, then id:
// the order search.Store gives on one machine (search.CanonicalOrder), so
// flat shards give exactly the hits, scores and order of one flat index of
// the whole collection. For bm25 and hybrid search a first round gathers
// the shards' BM25 statistics (search.LexicalStats: document count, total
// length, document frequencies of the question's terms) and every shard
// scores with their sums, so that BM25 scores too are those of one machine
// (ClientOptions.ShardBM25Stats skips that round and scores with each
// shard's own statistics, an approximation); hybrid search merges each
// shard's dense and BM25 candidates and fuses them as one machine does.
//
// A shard whose replicas are all down, or that does not answer within
// ClientOptions.ShardTimeout, is missing from the result: Result.Missing
// names it and why, and Result.Err wraps ErrIncomplete. A query a replica
// was holding when it died is hedged: sent again once it has waited much
// longer than the shard usually takes, the first answer winning.
//
// # Adds and deletes
//
// Client.Add embeds documents once, takes ids for those without one from a
// compare-and-set counter in Bucket, and publishes them, per shard, to the
// collection's stream; Client.Delete publishes deletions. Every replica of
// a shard applies the shard's updates in stream order (adds replace an id
// already present; deletes of absent ids do nothing, so applying an update
// twice changes nothing) and saves its index and then its StateFile; on
// restart it takes the updates after the sequence the StateFile records.
//
// See docs/cluster.md for running it on several machines and what each
// failure does.
package shard
