package shard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/search"
)

// maxUpdateBytes bounds one stream message (NATS's default max_payload is
// 1 MiB).
const maxUpdateBytes = 512 << 10

// Published says what Add or Delete published.
type Published struct {
	// IDs are the vector ids of the documents added (in order), or the
	// ids deleted.
	IDs []uint64 `json:"ids"`
	// Messages is the number of stream messages published, Last the
	// stream sequence of the last: once a replica has applied Last
	// (Result.Applied), its answers include the change.
	Messages int    `json:"messages"`
	Last     uint64 `json:"last_sequence"`
	// EmbedSeconds is the time spent embedding the documents.
	EmbedSeconds float64 `json:"embed_seconds"`
}

// Add embeds docs once with the collection's model and publishes them to
// the collection's stream, each to the shard of its vector id, from which
// every replica of that shard applies them in stream order. A document's
// ID must be a vector id (a non-negative integer) or absent: absent ones
// get ids taken from the collection's next id (a compare-and-set counter
// in Bucket), so two publishers never give out the same id. An id already
// in the collection is replaced (adds through the stream are upserts, so
// that a replica applying an update twice ends as its peers do). String
// IDs are refused: which shard holds a string id would need a look-up in
// every shard; keep such keys in another metadata field.
func (c *Client) Add(ctx context.Context, docs []search.Document) (*Published, error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("shard: add: %w", search.ErrNoDocuments)
	}
	ids := make([]uint64, len(docs))
	var need, atLeast uint64
	for i, d := range docs {
		if d.ID == nil {
			need++
			continue
		}
		id, ok := search.VectorID(d.ID)
		if !ok {
			return nil, fmt.Errorf("shard: add: document %d: id %v is not a non-negative integer (a sharded collection routes documents by vector id; keep other keys in another field)", i+1, d.ID)
		}
		ids[i] = id
		atLeast = max(atLeast, id+1)
	}
	metas := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		var err error
		if metas[i], err = search.DocumentMeta(d); err != nil {
			return nil, fmt.Errorf("shard: add: document %d: metadata: %w", i+1, err)
		}
	}
	m, err := c.embedder(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	vecs, err := m.Embed(embed.Texts(docs))
	if err != nil {
		return nil, err
	}
	embedSeconds := time.Since(start).Seconds()
	var first uint64
	err = retry(ctx, func(ctx context.Context) error {
		kv, err := c.js.KeyValue(ctx, Bucket)
		if err != nil {
			return fmt.Errorf("shard: add: key-value bucket %s: %w", Bucket, err)
		}
		first, err = raiseNextID(ctx, kv, c.opts.Collection, atLeast, need)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		if d.ID == nil {
			ids[i] = first
			first++
		}
	}
	pub := &Published{IDs: ids, EmbedSeconds: embedSeconds}
	// Group by shard, in input order, and cut into messages.
	n := c.info.Shards
	byShard := make([][]int, n)
	for i, id := range ids {
		s := ShardOf(id, n)
		byShard[s] = append(byShard[s], i)
	}
	dim := m.Dim()
	for s, rows := range byShard {
		for len(rows) > 0 {
			u := update{Op: opAdd, Dim: dim}
			size := 0
			var vs [][]float32
			// A row costs its vector in base64, its metadata and its id.
			rowBytes := func(r int) int { return 4*dim*4/3 + len(metas[r]) + 24 }
			for len(rows) > 0 && (len(u.IDs) == 0 || size+rowBytes(rows[0]) < maxUpdateBytes) {
				r := rows[0]
				rows = rows[1:]
				u.IDs, u.Meta, vs = append(u.IDs, ids[r]), append(u.Meta, metas[r]), append(vs, vecs[r])
				size += rowBytes(r)
			}
			u.Vectors = putFloats(vs...)
			if err := c.publish(ctx, s, u, pub); err != nil {
				return pub, err
			}
		}
	}
	return pub, nil
}

// Delete publishes the deletion of ids to their shards. Ids that are not
// in the collection are ignored by the replicas.
func (c *Client) Delete(ctx context.Context, ids []uint64) (*Published, error) {
	pub := &Published{IDs: ids}
	byShard := make([][]uint64, c.info.Shards)
	for _, id := range ids {
		s := ShardOf(id, c.info.Shards)
		byShard[s] = append(byShard[s], id)
	}
	for s, list := range byShard {
		for len(list) > 0 {
			n := min(len(list), 20000)
			if err := c.publish(ctx, s, update{Op: opDelete, IDs: list[:n]}, pub); err != nil {
				return pub, err
			}
			list = list[n:]
		}
	}
	return pub, nil
}

// publish publishes u for shard s, with a message id so that a retried
// publish is stored once.
func (c *Client) publish(ctx context.Context, s int, u update, pub *Published) error {
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	subj := docsSubject(c.opts.Collection, s)
	var ack *jetstream.PubAck
	for attempt := 0; attempt < 5; attempt++ {
		if ack, err = c.js.Publish(ctx, subj, data, jetstream.WithMsgID(id)); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("shard: publishing to %s: %w", subj, err)
	}
	pub.Messages++
	pub.Last = max(pub.Last, ack.Sequence)
	return nil
}
