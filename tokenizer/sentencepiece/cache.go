package sentencepiece

import (
	"hash/maphash"
	"sync/atomic"
)

// wordCache remembers the BPE segmentation of recent words: a direct-mapped
// table of atomic pointers, so that lookups and stores need no lock and a
// Processor stays safe for concurrent use. A collision replaces the older
// entry. Only words of at most maxCachedWord bytes are kept.
type wordCache struct {
	seed  maphash.Seed
	slots [1 << 14]atomic.Pointer[cachedWord]
}

const maxCachedWord = 64

type cachedWord struct {
	word  string
	spans []span // offsets relative to the word
}

func newWordCache() *wordCache { return &wordCache{seed: maphash.MakeSeed()} }

func (c *wordCache) slot(w string) *atomic.Pointer[cachedWord] {
	return &c.slots[maphash.String(c.seed, w)&(uint64(len(c.slots))-1)]
}

// get appends the cached spans of w, moved to base, to out.
func (c *wordCache) get(w string, base int, out []span) ([]span, bool) {
	e := c.slot(w).Load()
	if e == nil || e.word != w {
		return out, false
	}
	for _, s := range e.spans {
		out = append(out, span{begin: s.begin + base, end: s.end + base, id: s.id})
	}
	return out, true
}

// put remembers the spans of w (offsets from base).
func (c *wordCache) put(w string, base int, spans []span) {
	e := &cachedWord{word: w, spans: make([]span, len(spans))}
	for i, s := range spans {
		e.spans[i] = span{begin: s.begin - base, end: s.end - base, id: s.id}
	}
	c.slot(w).Store(e)
}
