package sentencepiece

// bpe segments normalized text as sentencepiece's BPE model does: start
// from single characters (user-defined symbols whole, never merged), then
// repeatedly merge the adjacent pair whose concatenation is the vocabulary
// piece of highest score (the leftmost on ties), until no pair is a piece.
// A merged piece of type UNUSED is split back into the two pieces it was
// made of.
type bpe struct {
	trie   *trie // NORMAL, USER_DEFINED and UNUSED pieces
	scores []float32
	types  []PieceType
	user   *trie // user-defined symbols; nil for none
	unkID  int32
	// byWord: no piece holds ▁ after its first character, so no merge
	// crosses the start of a word and each word can be merged on its own
	// (the same result, with smaller heaps).
	byWord bool
	cache  *wordCache // segmentations of recent words, when byWord
	// shadowed: a reserved piece has the text of a trie piece, so final
	// symbols must be looked up reserved-first.
	shadowed bool
}

// bpeScratch holds the buffers of one encode call.
type bpeScratch struct {
	syms   []bpeSymbol
	agenda bpeAgenda
}

type bpeSymbol struct {
	prev, next int
	freeze     bool
	begin, end int   // bytes of the normalized text
	node       int32 // trie node of the symbol's text; 0 when no piece starts with it
}

type bpePair struct {
	left, right int
	score       float32
	size        int
	node        int32 // trie node of the merged piece
}

// bpeAgenda is a binary max-heap of pairs: the highest score on top, the
// smallest left index first among equal scores (sentencepiece's order).
type bpeAgenda []bpePair

func (a bpeAgenda) less(i, j int) bool {
	return a[i].score > a[j].score || (a[i].score == a[j].score && a[i].left < a[j].left)
}

func (a *bpeAgenda) push(p bpePair) {
	*a = append(*a, p)
	h := *a
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (a *bpeAgenda) pop() bpePair {
	h := *a
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		j := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	*a = h
	return top
}

// encode appends the segmentation of s to out; ids of pieces not in the
// vocabulary are unkID (rawPiece resolves reserved pieces).
func (b *bpe) encode(s string, out []span, lookup func(string) int32) []span {
	var sc bpeScratch
	if !b.byWord {
		return b.encodeWord(s, 0, out, lookup, &sc)
	}
	start := 0
	for i := len(spaceSymbol); i <= len(s)-len(spaceSymbol); i++ {
		if s[i] == spaceSymbol[0] && s[i:i+len(spaceSymbol)] == spaceSymbol {
			out = b.encodeCached(s[start:i], start, out, lookup, &sc)
			start = i
		}
	}
	return b.encodeCached(s[start:], start, out, lookup, &sc)
}

// encodeCached is encodeWord through the word cache.
func (b *bpe) encodeCached(w string, base int, out []span, lookup func(string) int32, sc *bpeScratch) []span {
	if b.cache == nil || len(w) > maxCachedWord {
		return b.encodeWord(w, base, out, lookup, sc)
	}
	out, ok := b.cache.get(w, base, out)
	if ok {
		return out
	}
	n0 := len(out)
	out = b.encodeWord(w, base, out, lookup, sc)
	b.cache.put(w, base, out[n0:])
	return out
}

// encodeWord appends the segmentation of s, which starts at byte base of
// the normalized text, to out. Each symbol keeps its node in the piece
// trie, so that a pair is looked up by walking the right symbol's bytes
// from the left symbol's node.
func (b *bpe) encodeWord(s string, base int, out []span, lookup func(string) int32, sc *bpeScratch) []span {
	if s == "" {
		return out
	}
	t := b.trie
	syms := sc.syms[:0]
	defer func() { sc.syms = syms[:0] }()
	for pos := 0; pos < len(s); {
		sym := bpeSymbol{prev: len(syms) - 1, begin: pos}
		l := 0
		if b.user != nil {
			if n, v := b.user.longest(s[pos:]); v >= 0 {
				l, sym.freeze = n, true
			}
		}
		if l == 0 {
			l = min(oneCharLen(s[pos]), len(s)-pos)
		}
		node := int32(0)
		for i := pos; i < pos+l; i++ {
			if node = t.child(node, s[i]); node == 0 {
				break
			}
		}
		sym.node = node
		pos += l
		sym.end = pos
		sym.next = len(syms) + 1
		if pos == len(s) {
			sym.next = -1
		}
		syms = append(syms, sym)
	}
	var revMerge map[string][2]string // only for UNUSED pieces
	// pair returns the merged piece of the symbols left and right, or
	// id -1.
	pair := func(left, right int) (id, node int32) {
		if left == -1 || right == -1 {
			return -1, 0
		}
		sl, sr := &syms[left], &syms[right]
		if sl.freeze || sr.freeze || sl.node == 0 {
			return -1, 0
		}
		node = sl.node
		for i := sr.begin; i < sr.end; i++ {
			if node = t.child(node, s[i]); node == 0 {
				return -1, 0
			}
		}
		id = t.value[node]
		if id >= 0 && b.types[id] == Unused {
			if revMerge == nil {
				revMerge = map[string][2]string{}
			}
			revMerge[s[sl.begin:sr.end]] = [2]string{s[sl.begin:sl.end], s[sr.begin:sr.end]}
		}
		return id, node
	}
	if len(syms) <= smallWord {
		b.mergeSmall(syms, pair)
	} else {
		syms = b.mergeHeap(syms, pair, sc)
	}
	var reseg func(begin, end int, w string)
	reseg = func(begin, end int, w string) {
		id := lookup(w)
		if id < 0 || b.types[id] != Unused {
			out = append(out, span{begin: base + begin, end: base + end, id: id})
			return
		}
		p, ok := revMerge[w]
		if !ok {
			out = append(out, span{begin: base + begin, end: base + end, id: id})
			return
		}
		reseg(begin, begin+len(p[0]), p[0])
		reseg(begin+len(p[0]), end, p[1])
	}
	for i := 0; i != -1; i = syms[i].next {
		sym := syms[i]
		if sym.node != 0 && !b.shadowed {
			// A piece of the trie: its id (no reserved piece can share its text).
			if id := t.value[sym.node]; id >= 0 && b.types[id] != Unused {
				out = append(out, span{begin: base + sym.begin, end: base + sym.end, id: id})
				continue
			}
		}
		reseg(sym.begin, sym.end, s[sym.begin:sym.end])
	}
	return out
}

// maxSmallWord bounds smallWord, the number of symbols up to which a word
// is merged by scanning its pairs (mergeSmall) rather than through a heap
// (a variable so that tests can compare the two).
const maxSmallWord = 24

var smallWord = maxSmallWord

// mergeSmall merges syms in place: each round merges the pair of highest
// score, the leftmost among equals, which is the pair the heap of
// mergeHeap would pop, found by a scan of the cached pair of each symbol.
func (b *bpe) mergeSmall(syms []bpeSymbol, pair func(l, r int) (int32, int32)) {
	var ids, nodes [maxSmallWord]int32
	for i := range syms {
		ids[i], nodes[i] = pair(i, syms[i].next)
	}
	for {
		best := -1
		var bestScore float32
		for i := 0; i != -1; i = syms[i].next {
			if id := ids[i]; id >= 0 && (best < 0 || b.scores[id] > bestScore) {
				best, bestScore = i, b.scores[id]
			}
		}
		if best < 0 {
			return
		}
		l := &syms[best]
		r := &syms[l.next]
		l.end = r.end
		l.node = nodes[best]
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = best
		}
		r.begin, r.end = 0, 0
		// The same calls in the same order as mergeHeap's (pair records
		// the splits of UNUSED pieces, the last one winning).
		if l.prev >= 0 {
			ids[l.prev], nodes[l.prev] = pair(l.prev, best)
		}
		ids[best], nodes[best] = pair(best, l.next)
	}
}

// mergeHeap merges syms as sentencepiece's bpe_model.cc does, with a heap
// of candidate pairs; entries whose symbols changed since are skipped.
func (b *bpe) mergeHeap(syms []bpeSymbol, pair func(l, r int) (int32, int32), sc *bpeScratch) []bpeSymbol {
	agenda := sc.agenda[:0]
	add := func(left, right int) {
		if id, node := pair(left, right); id >= 0 {
			agenda.push(bpePair{left: left, right: right, score: b.scores[id], size: syms[right].end - syms[left].begin, node: node})
		}
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for len(agenda) > 0 {
		top := agenda.pop()
		l, r := &syms[top.left], &syms[top.right]
		if l.begin == l.end || r.begin == r.end || (l.end-l.begin)+(r.end-r.begin) != top.size {
			continue
		}
		l.end = r.end
		l.node = top.node
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.begin, r.end = 0, 0
		add(l.prev, top.left)
		add(top.left, l.next)
	}
	sc.agenda = agenda[:0]
	return syms
}
