package sentencepiece

import "container/heap"

// bpe segments normalized text as sentencepiece's BPE model does: start
// from single characters (user-defined symbols whole, never merged), then
// repeatedly merge the adjacent pair whose concatenation is the vocabulary
// piece of highest score (the leftmost on ties), until no pair is a piece.
// A merged piece of type UNUSED is split back into the two pieces it was
// made of.
type bpe struct {
	pieces map[string]int32 // NORMAL, USER_DEFINED and UNUSED pieces
	scores []float32
	types  []PieceType
	user   *trie // user-defined symbols; nil for none
	unkID  int32
}

type bpeSymbol struct {
	prev, next int
	freeze     bool
	begin, end int // bytes of the normalized text
}

type bpePair struct {
	left, right int
	score       float32
	size        int
}

type bpeAgenda []bpePair

func (a bpeAgenda) Len() int { return len(a) }
func (a bpeAgenda) Less(i, j int) bool {
	// sentencepiece's comparator puts the highest score on top, the
	// smallest left index first among equal scores.
	return a[i].score > a[j].score || (a[i].score == a[j].score && a[i].left < a[j].left)
}
func (a bpeAgenda) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *bpeAgenda) Push(x any)   { *a = append(*a, x.(bpePair)) }
func (a *bpeAgenda) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

// encode appends the segmentation of s to out; ids of pieces not in the
// vocabulary are unkID (rawPiece resolves reserved pieces).
func (b *bpe) encode(s string, out []span, lookup func(string) int32) []span {
	if s == "" {
		return out
	}
	syms := make([]bpeSymbol, 0, len(s))
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
		pos += l
		sym.end = pos
		sym.next = len(syms) + 1
		if pos == len(s) {
			sym.next = -1
		}
		syms = append(syms, sym)
	}
	var agenda bpeAgenda
	revMerge := map[string][2]string{}
	add := func(left, right int) {
		if left == -1 || right == -1 || syms[left].freeze || syms[right].freeze {
			return
		}
		piece := s[syms[left].begin:syms[right].end]
		id, ok := b.pieces[piece]
		if !ok {
			return
		}
		heap.Push(&agenda, bpePair{left: left, right: right, score: b.scores[id], size: len(piece)})
		if b.types[id] == Unused {
			revMerge[piece] = [2]string{s[syms[left].begin:syms[left].end], s[syms[right].begin:syms[right].end]}
		}
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for agenda.Len() > 0 {
		top := heap.Pop(&agenda).(bpePair)
		l, r := &syms[top.left], &syms[top.right]
		if l.begin == l.end || r.begin == r.end || (l.end-l.begin)+(r.end-r.begin) != top.size {
			continue
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.begin, r.end = 0, 0
		add(l.prev, top.left)
		add(top.left, l.next)
	}
	var reseg func(begin, end int, w string)
	reseg = func(begin, end int, w string) {
		id := lookup(w)
		if id < 0 || b.types[id] != Unused {
			out = append(out, span{begin: begin, end: end, id: id})
			return
		}
		p, ok := revMerge[w]
		if !ok {
			out = append(out, span{begin: begin, end: end, id: id})
			return
		}
		reseg(begin, begin+len(p[0]), p[0])
		reseg(begin+len(p[0]), end, p[1])
	}
	for i := 0; i != -1; i = syms[i].next {
		sym := syms[i]
		reseg(sym.begin, sym.end, s[sym.begin:sym.end])
	}
	return out
}
