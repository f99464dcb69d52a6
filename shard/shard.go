package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// Names of the NATS subjects, streams and buckets (COLL is the collection
// name, I the shard number).
const (
	// SearchSubject.COLL.I is where shard I's replicas take queries, in the
	// queue group QueueGroup.I.
	SearchSubject = "loupe.search"
	// QueueGroup.I is the queue group of shard I's replicas: NATS hands
	// each query to one live member.
	QueueGroup = "loupe-shard"
	// DocsSubject.COLL.I carries shard I's adds and deletes, in the stream
	// DocsStream_COLL.
	DocsSubject = "loupe.docs"
	DocsStream  = "LOUPE_DOCS"
	// Bucket is the key-value bucket where shards register: COLL holds
	// the collection's Info, COLL.next_id the next free vector id.
	Bucket = "loupe_shards"
	// StateFile is the file in a shard directory that says which shard it
	// is and up to which stream sequence it has applied updates.
	StateFile = "shard.json"
	// DefaultCollection is the collection name when none is given.
	DefaultCollection = "default"
)

// ShardOf returns the shard, of n, that holds vector id: splitmix64(id)
// mod n, where splitmix64 is Steele, Lea and Flood's 64-bit finaliser
// (z = id + 0x9e3779b97f4a7c15; z = (z ^ z>>30)·0xbf58476d1ce4e5b9;
// z = (z ^ z>>27)·0x94d049bb133111eb; z ^ z>>31). It is stable: the same id
// goes to the same shard on every machine and in every version.
func ShardOf(id uint64, n int) int {
	z := id + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}

// Spec is one shard of a collection split in Of: shard I of N, written
// "I/N" (I from 0).
type Spec struct{ I, N int }

func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// ParseSpec parses "I/N" (0 ≤ I < N).
func ParseSpec(s string) (Spec, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Spec{}, fmt.Errorf("shard: %q is not a shard I/N with 0 ≤ I < N (shard 0 of 4 is 0/4)", s)
	}
	return Spec{i, n}, nil
}

// validName reports whether name can be a collection name (it is used in
// subjects, stream names and keys).
func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !validName(name) {
		return fmt.Errorf("shard: collection name %q: want 1 to 64 letters, digits, _ or -", name)
	}
	return nil
}

func searchSubject(coll string, i int) string { return fmt.Sprintf("%s.%s.%d", SearchSubject, coll, i) }
func queueGroup(i int) string                 { return fmt.Sprintf("%s-%d", QueueGroup, i) }
func docsSubject(coll string, i int) string   { return fmt.Sprintf("%s.%s.%d", DocsSubject, coll, i) }
func streamName(coll string) string           { return DocsStream + "_" + coll }
func nextIDKey(coll string) string            { return coll + ".next_id" }

// State is a shard directory's StateFile.
type State struct {
	// Shard and Shards: this directory is shard Shard of Shards.
	Shard  int `json:"shard"`
	Shards int `json:"shards"`
	// Collection is the collection it serves (set on first serve).
	Collection string `json:"collection,omitempty"`
	// Applied is the stream sequence of the last update applied to the
	// index saved beside it (0: none). On restart the replica takes the
	// updates after it.
	Applied uint64 `json:"applied"`
	// Stream identifies the stream Applied counts in (its creation time):
	// a stream deleted and made again numbers its messages from 1, and a
	// replica must not take its sequences for the old one's.
	Stream string `json:"stream,omitempty"`
}

// ReadState reads the StateFile of shard directory dir; a directory without
// one gives ok false.
func ReadState(dir string) (st State, ok bool, err error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("shard: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("shard: %s: %w", path, err)
	}
	if st.Shards < 1 || st.Shard < 0 || st.Shard >= st.Shards {
		return st, false, fmt.Errorf("shard: %s: shard %d of %d is not a shard", path, st.Shard, st.Shards)
	}
	return st, true, nil
}

// WriteState writes st to dir's StateFile atomically.
func WriteState(dir string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, StateFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// Info is what the shards of a collection register in Bucket under the
// collection's name: how many shards there are and what the index is, so
// that a client knows where to send a query and how to embed it.
type Info struct {
	Shards int    `json:"shards"`
	Model  string `json:"model"`
	Metric string `json:"metric"`
	Dim    int    `json:"dim"`
	Kind   string `json:"kind"`
}

// bucket returns Bucket, creating it when it does not exist.
func bucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = withReplicas(replicas, func(r int) (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Replicas: r, Storage: jetstream.FileStorage,
				Description: "loupe sharded collections: shard counts, models, next ids"})
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("shard: key-value bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// GetInfo reads the Info that collection coll's shards registered.
func GetInfo(ctx context.Context, js jetstream.JetStream, coll string) (Info, error) {
	var info Info
	if err := checkName(coll); err != nil {
		return info, err
	}
	kv, err := js.KeyValue(ctx, Bucket)
	if err == nil {
		var e jetstream.KeyValueEntry
		if e, err = kv.Get(ctx, coll); err == nil {
			if err := json.Unmarshal(e.Value(), &info); err != nil {
				return info, fmt.Errorf("shard: collection %s: registration: %w", coll, err)
			}
			return info, nil
		}
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return info, fmt.Errorf("shard: no shard of collection %q has registered (start loupe serve --shard I/N --collection %s)", coll, coll)
	}
	return info, fmt.Errorf("shard: collection %s: %w", coll, err)
}

// register records info for coll, or checks it against what is recorded,
// and raises the collection's next id to at least next.
func register(ctx context.Context, kv jetstream.KeyValue, coll string, info Info, next uint64) error {
	b, _ := json.Marshal(info)
	if _, err := kv.Create(ctx, coll, b); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("shard: registering collection %s: %w", coll, err)
		}
		e, err := kv.Get(ctx, coll)
		if err != nil {
			return fmt.Errorf("shard: collection %s: %w", coll, err)
		}
		var have Info
		if err := json.Unmarshal(e.Value(), &have); err != nil {
			return fmt.Errorf("shard: collection %s: registration: %w", coll, err)
		}
		switch {
		case have.Shards != info.Shards:
			return fmt.Errorf("shard: collection %s has %d shards, this directory is a shard of %d", coll, have.Shards, info.Shards)
		case have.Dim != info.Dim || have.Metric != info.Metric:
			return fmt.Errorf("shard: collection %s holds %d-d %s vectors, this shard %d-d %s ones", coll, have.Dim, have.Metric, info.Dim, info.Metric)
		}
	}
	_, err := raiseNextID(ctx, kv, coll, next, 0)
	return err
}

// raiseNextID sets coll's next id to max(stored, atLeast) and then takes
// n ids from it, returning the first taken; compare-and-set, so that
// publishers and shards never hand out an id twice.
func raiseNextID(ctx context.Context, kv jetstream.KeyValue, coll string, atLeast, n uint64) (uint64, error) {
	key := nextIDKey(coll)
	for {
		var cur, rev uint64
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("shard: collection %s: next id: %w", coll, err)
		default:
			if cur, err = strconv.ParseUint(string(e.Value()), 10, 64); err != nil {
				return 0, fmt.Errorf("shard: collection %s: next id %q: %w", coll, e.Value(), err)
			}
			rev = e.Revision()
		}
		first := max(cur, atLeast)
		if first == cur && n == 0 && rev != 0 {
			return first, nil
		}
		val := []byte(strconv.FormatUint(first+n, 10))
		if rev == 0 {
			_, err = kv.Create(ctx, key, val)
		} else {
			_, err = kv.Update(ctx, key, val, rev)
		}
		if err == nil {
			return first, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !strings.Contains(err.Error(), "wrong last sequence") {
			return 0, fmt.Errorf("shard: collection %s: next id: %w", coll, err)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

// ensureStream returns coll's update stream, creating it when it does not
// exist.
func ensureStream(ctx context.Context, js jetstream.JetStream, coll string, replicas int) (jetstream.Stream, error) {
	name := streamName(coll)
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = withReplicas(replicas, func(r int) (jetstream.Stream, error) {
			return js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{DocsSubject + "." + coll + ".>"},
				Storage: jetstream.FileStorage, Replicas: r, Duplicates: 10 * 60e9,
				Description: "loupe sharded collection " + coll + ": adds and deletes, in the order every replica applies them"})
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("shard: stream %s: %w", name, err)
	}
	return s, nil
}

// withReplicas runs create with replicas, or when that is 0 with 3 and
// then, if the cluster cannot place 3, 1.
func withReplicas[T any](replicas int, create func(r int) (T, error)) (T, error) {
	choices := []int{replicas}
	if replicas <= 0 {
		choices = []int{3, 1}
	}
	for i, r := range choices {
		v, err := create(r)
		if err == nil || i == len(choices)-1 || !placementError(err) {
			return v, err
		}
	}
	panic("unreachable")
}

// placementError reports whether err says the server cannot place that
// many replicas.
func placementError(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode {
		case 10005, 10074, 10023:
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "no suitable peers") || strings.Contains(msg, "replicas > 1 not supported") || strings.Contains(msg, "insufficient resources")
}

// transient reports whether err is one a JetStream cluster gives while it
// elects a leader (a stream or bucket just created, a node just lost):
// worth trying again.
func transient(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrNoResponders) || strings.Contains(err.Error(), "no response from stream") ||
		strings.Contains(err.Error(), "JetStream system temporarily unavailable")
}

// retry runs fn until it succeeds, fails for good, or 20 seconds pass,
// each try bounded by 5 seconds.
func retry(ctx context.Context, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(c)
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
