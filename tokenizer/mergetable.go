package tokenizer

// mergeTable maps a pair of token ids to its merge: an open-addressing hash
// table with linear probing and a multiplicative hash, about twice as fast
// as a Go map for this one hot lookup.
type mergeTable struct {
	keys  []uint64 // pairKey+1; 0 marks an empty slot
	vals  []bpeMerge
	shift uint
	n     int
}

func newMergeTable(n int) *mergeTable {
	size, bits := 8, uint(3)
	for size < 2*n {
		size <<= 1
		bits++
	}
	return &mergeTable{keys: make([]uint64, size), vals: make([]bpeMerge, size), shift: 64 - bits}
}

func (m *mergeTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> m.shift }

// get returns the merge of key k.
func (m *mergeTable) get(k uint64) (bpeMerge, bool) {
	k++
	mask := uint64(len(m.keys) - 1)
	for i := m.slot(k); ; i = (i + 1) & mask {
		switch m.keys[i] {
		case k:
			return m.vals[i], true
		case 0:
			return bpeMerge{}, false
		}
	}
}

// add inserts k unless it is there already (the first, best rank wins).
// The table never fills: it was sized for twice the merges.
func (m *mergeTable) add(k uint64, v bpeMerge) bool {
	k++
	mask := uint64(len(m.keys) - 1)
	for i := m.slot(k); ; i = (i + 1) & mask {
		switch m.keys[i] {
		case k:
			return false
		case 0:
			m.keys[i], m.vals[i] = k, v
			m.n++
			return true
		}
	}
}
