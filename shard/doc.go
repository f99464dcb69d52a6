// Package shard is sharded, replicated search over NATS: a collection of
// documents (a search index) split into N shards, each served by any
// number of replicas, queried through any gateway, and changed through a
// JetStream stream that every replica applies in the same order.
//
// See docs/cluster.md for running it on several machines.
package shard
