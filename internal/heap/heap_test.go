package heap

import (
	"math/rand"
	"slices"
	"testing"
)

type it = Item[float32, uint32]

func keys(s []it) []float32 {
	var out []float32
	for _, x := range s {
		out = append(out, x.Key)
	}
	return out
}

func descending(s []float32) []float32 {
	out := slices.Clone(s)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// TestAgainstSort checks every operation against a sorted copy, on random
// keys with many ties.
func TestAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		n := rng.Intn(60)
		in := make([]it, n)
		for i := range in {
			in[i] = it{float32(rng.Intn(20)), uint32(i)}
		}
		want := keys(in)
		slices.Sort(want)

		var mn Min[float32, uint32]
		var mx Max[float32, uint32]
		for _, x := range in {
			mn.Push(x)
			mx.Push(x)
		}
		var gotMin []float32
		for len(mn) > 0 {
			gotMin = append(gotMin, mn.Pop().Key)
		}
		if got := keys(mx.Drain(nil)); !slices.Equal(got, want) {
			t.Fatalf("Max.Drain %v, want %v", got, want)
		}
		if !slices.Equal(gotMin, want) {
			t.Fatalf("Min pops %v, want %v", gotMin, want)
		}

		// Init, then ReplaceTop.
		mn = append(Min[float32, uint32](nil), in...)
		mn.Init()
		if n > 0 {
			mn.ReplaceTop(it{100, 0})
			w := append([]float32(nil), want[1:]...)
			w = append(w, 100)
			if got := keys(mn.Drain(nil)); !slices.Equal(got, descending(w)) {
				t.Fatalf("Min Init+ReplaceTop+Drain %v, want %v descending", got, w)
			}
		}

		// Keep: the k smallest (Max) and the k largest (Min).
		k := 1 + rng.Intn(10)
		mx, mn = mx[:0], mn[:0]
		for _, x := range in {
			mx.Keep(x, k)
			mn.Keep(x, k)
		}
		m := min(k, n)
		if got := keys(mx.Drain(nil)); !slices.Equal(got, want[:m]) {
			t.Fatalf("Max.Keep(%d) %v, want %v", k, got, want[:m])
		}
		if got := keys(mn.Drain(nil)); !slices.Equal(got, descending(want[n-m:])) {
			t.Fatalf("Min.Keep(%d) %v, want %v descending", k, got, want[n-m:])
		}
	}
}

// A refilled heap allocates nothing.
func TestNoAllocs(t *testing.T) {
	h := make(Max[float32, uint32], 0, 64)
	dst := make([]it, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		h = h[:0]
		for i := 0; i < 200; i++ {
			h.Keep(it{float32((i * 7919) % 101), uint32(i)}, 32)
		}
		dst = h.Drain(dst)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

func BenchmarkKeep(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	in := make([]it, 4096)
	for i := range in {
		in[i] = it{rng.Float32(), uint32(i)}
	}
	h := make(Max[float32, uint32], 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h = h[:0]
		for _, x := range in {
			h.Keep(x, 64)
		}
	}
}

func BenchmarkPushPop(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	in := make([]it, 256)
	for i := range in {
		in[i] = it{rng.Float32(), uint32(i)}
	}
	h := make(Min[float32, uint32], 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, x := range in {
			h.Push(x)
		}
		for len(h) > 0 {
			h.Pop()
		}
	}
}
