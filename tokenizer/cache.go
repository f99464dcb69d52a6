package tokenizer

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// wordCache remembers the token ids of pre-tokens already merged. It is a
// direct-mapped table of atomic pointers to immutable entries: a lookup is
// one hash, one atomic load and one string comparison, with no lock, so it
// is safe and cheap for concurrent use. It is bounded by construction: a new
// entry replaces whatever lived in its slot.
type wordCache struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	key string
	ids []int32
}

// cacheMaxWord is the longest pre-token (in bytes) that is cached.
const cacheMaxWord = 64

// newWordCache returns a cache with capacity slots (rounded up to a power of 2).
func newWordCache(capacity int) *wordCache {
	n := 1
	for n < capacity {
		n <<= 1
	}
	n = max(n, 2)
	return &wordCache{seed: maphash.MakeSeed(), mask: uint64(n - 1), slots: make([]atomic.Pointer[cacheEntry], n)}
}

// A key lives in one of two neighbouring slots (2-way associative), so two
// frequent words whose hashes collide do not keep evicting each other.

func (c *wordCache) get(key string) ([]int32, bool) {
	i := maphash.String(c.seed, key) & c.mask
	if e := c.slots[i].Load(); e != nil && e.key == key {
		return e.ids, true
	}
	if e := c.slots[i^1].Load(); e != nil && e.key == key {
		return e.ids, true
	}
	return nil, false
}

func (c *wordCache) put(key string, ids []int32) {
	e := &cacheEntry{key: strings.Clone(key), ids: append([]int32(nil), ids...)}
	h := maphash.String(c.seed, key)
	i := h & c.mask
	switch {
	case c.slots[i].Load() == nil:
	case c.slots[i^1].Load() == nil:
		i ^= 1
	default:
		i ^= (h >> 32) & 1 // evict one of the two, chosen by another hash bit
	}
	c.slots[i].Store(e)
}
