package reorder

import (
	"slices"
	"testing"
)

// TestRows checks the result against copies made from a snapshot.
func TestRows(t *testing.T) {
	for _, from := range [][]int{{0, 1, 2}, {1, 0}, {1, 2, 0}, {0, 0, 0}, {2, 2, 1, 1}, {3, 2, 1, 0}, {1, 1, 0}} {
		n := len(from)
		rows := make([]int, n+1) // row contents: their original index
		for i := range rows {
			rows[i] = i
		}
		Rows("test", from, n, n, n+1, func(dst, src int) { rows[dst] = rows[src] })
		for b, f := range from {
			if rows[b] != f {
				t.Errorf("from %v: rows %v", from, rows[:n])
				break
			}
		}
	}
}

// TestRowsPanics checks the argument checks.
func TestRowsPanics(t *testing.T) {
	for _, c := range []struct {
		from        []int
		spare, rows int
	}{{[]int{2, 0}, 2, 3}, {[]int{1, 0}, 0, 3}, {[]int{1, 0}, 5, 3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("from %v spare %d: no panic", c.from, c.spare)
				}
			}()
			Rows("test", slices.Clone(c.from), c.spare, 2, c.rows, func(int, int) {})
		}()
	}
}
