//go:build unix

package heap

import (
	"math/rand"
	"syscall"
	"testing"
)

// cpuNanos is the CPU time this process has used: per operation, steadier
// than wall time on a machine shared with other work.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// handMax and handMin are the heaps index used to write out by hand (swap
// per level), kept as the baseline that the generic heap must match.
type handItem struct {
	d  float32
	id uint32
}

type handMax []handItem

func (h *handMax) push(it handItem) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d >= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *handMax) pop() handItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].d > s[l].d {
			c = r
		}
		if s[i].d >= s[c].d {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

type handMin []handItem

func (h *handMin) push(it handItem) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d <= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *handMin) pop() handItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].d < s[l].d {
			c = r
		}
		if s[i].d <= s[c].d {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

// searchLike mimics an HNSW layer search's heap traffic: candidates pushed
// to a min-heap and popped, results kept in a bounded max-heap of ef.
func searchData() []float32 {
	rng := rand.New(rand.NewSource(1))
	ds := make([]float32, 4096)
	for i := range ds {
		ds[i] = rng.Float32()
	}
	return ds
}

const benchEf = 64

func BenchmarkSearchLike(b *testing.B) {
	ds := searchData()
	b.Run("generic", func(b *testing.B) {
		cand := make(Min[float32, uint32], 0, len(ds))
		top := make(Max[float32, uint32], 0, benchEf+1)
		start := cpuNanos()
		defer func() { b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op") }()
		for i := 0; i < b.N; i++ {
			cand, top = cand[:0], top[:0]
			for j, d := range ds {
				if len(top) < benchEf || d < top[0].Key {
					cand.Push(Item[float32, uint32]{d, uint32(j)})
					top.Keep(Item[float32, uint32]{d, uint32(j)}, benchEf)
				}
				if j%4 == 3 && len(cand) > 0 {
					cand.Pop()
				}
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		cand := make(handMin, 0, len(ds))
		top := make(handMax, 0, benchEf+1)
		start := cpuNanos()
		defer func() { b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op") }()
		for i := 0; i < b.N; i++ {
			cand, top = cand[:0], top[:0]
			for j, d := range ds {
				if len(top) < benchEf || d < top[0].d {
					cand.push(handItem{d, uint32(j)})
					top.push(handItem{d, uint32(j)})
					if len(top) > benchEf {
						top.pop()
					}
				}
				if j%4 == 3 && len(cand) > 0 {
					cand.pop()
				}
			}
		}
	})
}
