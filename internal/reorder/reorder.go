// Package reorder holds the bookkeeping of a beam-search cache reorder
// (transformers' reorder_cache) shared by the models whose decoder keeps
// per-row caches: row b takes what row from[b] holds, every copy reading
// the rows as they were before the call.
package reorder

import "fmt"

// Max is the largest len(from) Rows handles without allocating.
const Max = 64

// Rows makes row b a copy of row from[b] for every b < len(from), calling
// copySeq(dst, src) so that each copy reads the rows as they were before
// the call. Several rows may take the same source; a row whose source is
// itself is not copied. A cycle (a permutation) goes through row spare,
// which must lie in [len(from), rows) and is then overwritten. batch is
// the number of rows a caller may reorder (len(from) ≤ batch). It panics,
// naming pkg, on out-of-range arguments (programming errors). It allocates
// nothing for up to Max rows (copySeq must not escape).
func Rows(pkg string, from []int, spare, batch, rows int, copySeq func(dst, src int)) {
	n := len(from)
	if n > batch {
		panic(fmt.Sprintf("%s: Reorder of %d rows in a decoder of batch %d", pkg, n, batch))
	}
	var buf [Max]int
	pend := buf[:0]
	if n > Max {
		pend = make([]int, 0, n)
	}
	for b, f := range from {
		if f < 0 || f >= n {
			panic(fmt.Sprintf("%s: Reorder: source %d of row %d outside [0, %d)", pkg, f, b, n))
		}
		pend = append(pend, f)
	}
	readBy := func(b int) bool {
		for c, f := range pend {
			if f == b && c != b {
				return true
			}
		}
		return false
	}
	for {
		left, moved := false, false
		for b, f := range pend {
			if f == b {
				continue
			}
			left = true
			if readBy(b) {
				continue
			}
			copySeq(b, f)
			pend[b] = b
			moved = true
		}
		if !left {
			return
		}
		if moved {
			continue
		}
		if spare < n || spare >= rows {
			panic(fmt.Sprintf("%s: Reorder: the sources form a cycle and spare row %d is not in [%d, %d)", pkg, spare, n, rows))
		}
		for b, f := range pend {
			if f == b {
				continue
			}
			copySeq(spare, b)
			for c, g := range pend {
				if g == b && c != b {
					pend[c] = spare
				}
			}
			break
		}
	}
}
