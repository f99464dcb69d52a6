package tokenizer

import (
	"strings"
	"sync"
)

// wordCache remembers the token ids of pre-tokens already merged. It is
// bounded (a shard that fills up is emptied and starts again, which keeps
// the cost of an eviction at zero in the common case) and safe for
// concurrent use (a read-write lock per shard).
type wordCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

const (
	cacheShards = 16
	// cacheMaxWord is the longest pre-token (in bytes) that is cached.
	cacheMaxWord = 64
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func newWordCache(capacity int) *wordCache {
	c := &wordCache{perShard: max(capacity/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
	return c
}

func (c *wordCache) shard(key string) *cacheShard {
	// A cheap spread over length and the two ends: pre-tokens differ there.
	h := uint(len(key))
	if len(key) > 0 {
		h = h*31 + uint(key[0])*7 + uint(key[len(key)-1])
	}
	return &c.shards[h%cacheShards]
}

func (c *wordCache) get(key string) ([]int32, bool) {
	s := c.shard(key)
	s.mu.RLock()
	v, ok := s.m[key]
	s.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(key string, ids []int32) {
	s := c.shard(key)
	v := make([]int32, len(ids))
	copy(v, ids)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		clear(s.m)
	}
	s.m[strings.Clone(key)] = v
	s.mu.Unlock()
}
