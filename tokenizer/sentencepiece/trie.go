package sentencepiece

import "sort"

// trie maps byte strings to values, for the longest-match and all-prefixes
// walks of the normalizer, the Unigram lattice and the BPE pair lookup. It
// is a double array: the child of node n along byte c is base[n]+c when
// check there is n. Node 0 is the root, so 0 also means "no node".
type trie struct {
	base  []int32
	check []int32 // parent of each position; -1 when free
	value []int32 // value of the key ending at each node; -1 for none
}

// newTrie builds a trie of keys (empty keys are ignored); values[i] is the
// value of keys[i]. A key given twice keeps its first value.
func newTrie(keys []string, values []int32) *trie {
	// A pointer trie first, then laid out breadth first.
	type bnode struct {
		labels []byte
		kids   []int32
		value  int32
	}
	b := []bnode{{value: -1}}
	kid := func(n int32, c byte) int32 {
		for i, l := range b[n].labels {
			if l == c {
				return b[n].kids[i]
			}
		}
		return -1
	}
	for i, k := range keys {
		n := int32(0)
		for j := 0; j < len(k); j++ {
			c := kid(n, k[j])
			if c < 0 {
				c = int32(len(b))
				b[n].labels = append(b[n].labels, k[j])
				b[n].kids = append(b[n].kids, c)
				b = append(b, bnode{value: -1})
			}
			n = c
		}
		if n != 0 && b[n].value < 0 {
			b[n].value = values[i]
		}
	}
	t := &trie{}
	grow := func(n int) {
		for len(t.check) < n {
			t.base = append(t.base, 0)
			t.check = append(t.check, -1)
			t.value = append(t.value, -1)
		}
	}
	grow(256)
	t.check[0] = -2 // the root is taken
	t.value[0] = b[0].value
	type item struct{ b, pos int32 }
	queue := []item{{0, 0}}
	nextFree := int32(1)
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		bn := &b[it.b]
		if len(bn.labels) == 0 {
			continue
		}
		order := make([]int, len(bn.labels))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(x, y int) bool { return bn.labels[order[x]] < bn.labels[order[y]] })
		first := int32(bn.labels[order[0]])
		for nextFree < int32(len(t.check)) && t.check[nextFree] != -1 {
			nextFree++
		}
		var base int32
		for p := nextFree; ; p++ {
			grow(int(p) + 1)
			if t.check[p] != -1 || p-first < 1 {
				continue
			}
			base = p - first
			grow(int(base) + 257)
			ok := true
			for _, i := range order {
				if t.check[base+int32(bn.labels[i])] != -1 {
					ok = false
					break
				}
			}
			if ok {
				break
			}
		}
		t.base[it.pos] = base
		for _, i := range order {
			pos := base + int32(bn.labels[i])
			t.check[pos] = it.pos
			t.value[pos] = b[bn.kids[i]].value
			queue = append(queue, item{bn.kids[i], pos})
		}
	}
	// Trim the unused tail.
	last := len(t.check) - 1
	for last > 0 && t.check[last] == -1 {
		last--
	}
	t.base, t.check, t.value = t.base[:last+1], t.check[:last+1], t.value[:last+1]
	return t
}

// child returns the child of node n along byte c, or 0 for none.
func (t *trie) child(n int32, c byte) int32 {
	pos := t.base[n] + int32(c)
	if pos > 0 && int(pos) < len(t.check) && t.check[pos] == n {
		return pos
	}
	return 0
}

// longest returns the length and value of the longest key that is a prefix
// of s, or 0, -1.
func (t *trie) longest(s string) (n int, value int32) {
	value = -1
	node := int32(0)
	for i := 0; i < len(s); i++ {
		if node = t.child(node, s[i]); node == 0 {
			break
		}
		if v := t.value[node]; v >= 0 {
			n, value = i+1, v
		}
	}
	return n, value
}
