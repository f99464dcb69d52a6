package sentencepiece

import "sort"

// trie maps byte strings to values, for the longest-match and all-prefixes
// walks of the normalizer and the Unigram lattice. Node 0 is the root; its
// children are found through a 256-entry table, other nodes' children
// through a sorted run of labels.
type trie struct {
	root     [256]int32 // child of the root for each byte; 0 for none
	nodes    []trieNode
	labels   []byte
	children []int32
}

type trieNode struct {
	start, end int32 // the node's children are labels/children[start:end]
	value      int32 // -1 when no key ends here
}

// newTrie builds a trie of keys (empty keys are ignored); values[i] is the
// value of keys[i]. A key given twice keeps its first value.
func newTrie(keys []string, values []int32) *trie {
	type bnode struct {
		kids  map[byte]int32
		value int32
	}
	b := []bnode{{value: -1}}
	for i, k := range keys {
		n := int32(0)
		for j := 0; j < len(k); j++ {
			if b[n].kids == nil {
				b[n].kids = map[byte]int32{}
			}
			c, ok := b[n].kids[k[j]]
			if !ok {
				c = int32(len(b))
				b[n].kids[k[j]] = c
				b = append(b, bnode{value: -1})
			}
			n = c
		}
		if n != 0 && b[n].value < 0 {
			b[n].value = values[i]
		}
	}
	t := &trie{nodes: make([]trieNode, len(b))}
	for i := range b {
		t.nodes[i].value = b[i].value
		t.nodes[i].start = int32(len(t.labels))
		ls := make([]byte, 0, len(b[i].kids))
		for l := range b[i].kids {
			ls = append(ls, l)
		}
		sort.Slice(ls, func(x, y int) bool { return ls[x] < ls[y] })
		for _, l := range ls {
			t.labels = append(t.labels, l)
			t.children = append(t.children, b[i].kids[l])
			if i == 0 {
				t.root[l] = b[i].kids[l]
			}
		}
		t.nodes[i].end = int32(len(t.labels))
	}
	return t
}

// child returns the child of node n along byte c, or 0 for none.
func (t *trie) child(n int32, c byte) int32 {
	if n == 0 {
		return t.root[c]
	}
	nd := &t.nodes[n]
	ls := t.labels[nd.start:nd.end]
	if len(ls) <= 8 {
		for i, l := range ls {
			if l == c {
				return t.children[int(nd.start)+i]
			}
		}
		return 0
	}
	lo, hi := 0, len(ls)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ls[m] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ls) && ls[lo] == c {
		return t.children[int(nd.start)+lo]
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
		if v := t.nodes[node].value; v >= 0 {
			n, value = i+1, v
		}
	}
	return n, value
}

// exact returns the value of key s, or -1.
func (t *trie) exact(s string) int32 {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		if node = t.child(node, s[i]); node == 0 {
			return -1
		}
	}
	if node == 0 {
		return -1
	}
	return t.nodes[node].value
}
