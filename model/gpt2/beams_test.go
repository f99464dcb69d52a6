package gpt2

import (
	"fmt"
	"math"
	"testing"
)

// TestReorder fills four sequences with different prompts, reorders them,
// feeds one token to each and checks every sequence's logits against a
// fresh run of the sequence it was meant to copy.
func TestReorder(t *testing.T) {
	m := loadTiny(t, "tiny")
	prompts := [][]int{{1, 2, 3}, {4, 5, 6, 7, 8}, {9}, {10, 11, 12, 13}}
	next := []int{20, 21, 22, 23}
	// want[src][tok]: logits after prompts[src] + next[tok], computed alone.
	want := make([][][]float32, len(prompts))
	for i, p := range prompts {
		for _, tok := range next {
			lg, err := m.Forward(append(append([]int(nil), p...), tok), nil)
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			want[i] = append(want[i], lg[len(p)*V:])
		}
	}
	for _, from := range [][]int{
		{0, 1, 2, 3},
		{1, 0, 3, 2}, // two swaps
		{1, 2, 3, 0}, // one 4-cycle
		{0, 0, 1, 1},
		{3, 3, 3, 3},
		{2, 0, 0, 1},
		{1, 0, 0, 2}, // a swap whose members are also copied elsewhere
	} {
		t.Run(fmt.Sprint(from), func(t *testing.T) {
			s := m.NewState(StateOptions{Batch: 5, MaxSeq: 16})
			if err := s.Forward(prompts, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			s.Reorder(from, 4)
			for b, f := range from {
				if s.Len(b) != len(prompts[f]) {
					t.Errorf("sequence %d: Len %d, want %d", b, s.Len(b), len(prompts[f]))
				}
			}
			step := make([][]int, len(from))
			for b := range step {
				step[b] = []int{next[b]}
			}
			if err := s.Forward(step, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			for b, f := range from {
				if d := maxDiff(s.Logits(b), want[f][b]); d > 1e-5 {
					t.Errorf("sequence %d (from %d): logits differ by %g", b, f, d)
				}
			}
		})
	}
}

func TestCopySeqLogits(t *testing.T) {
	m := loadTiny(t, "tiny")
	s := m.NewState(StateOptions{Batch: 2, MaxSeq: 8})
	if err := s.Forward([][]int{{1, 2}}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	s.CopySeq(1, 0)
	if s.Len(1) != 2 || maxDiff(s.Logits(1), s.Logits(0)) != 0 {
		t.Errorf("copy: Len %d, logits differ by %g", s.Len(1), maxDiff(s.Logits(1), s.Logits(0)))
	}
}

func TestReorderNeedsSpare(t *testing.T) {
	m := loadTiny(t, "tiny")
	s := m.NewState(StateOptions{Batch: 2, MaxSeq: 8})
	defer func() {
		if recover() == nil {
			t.Error("a swap without a spare sequence did not panic")
		}
	}()
	s.Reorder([]int{1, 0}, -1)
}

func TestReorderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	m := loadTiny(t, "tiny")
	s := m.NewState(StateOptions{Batch: 5, MaxSeq: 8})
	if err := s.Forward([][]int{{1}, {2}, {3}, {4}}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	from := []int{1, 2, 3, 0}
	if n := testing.AllocsPerRun(20, func() { s.Reorder(from, 4) }); n != 0 {
		t.Errorf("Reorder allocates %v times", n)
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestHidden checks that State.Hidden is the ln_f row the last logits come
// from, with and without a hook and AllLogits, and that CopySeq copies it.
func TestHidden(t *testing.T) {
	m := loadTiny(t, "tiny")
	C, V := m.Config.NEmbd, m.Config.VocabSize
	ids := []int{1, 2, 3, 4, 5}
	var lnf []float32
	hook := func(a *Activation) {
		if a.Name == "ln_f" && a.Seq == 0 {
			lnf = append(lnf[:0], a.Data[len(a.Data)-C:]...)
		}
	}
	for _, tc := range []struct {
		name string
		opt  ForwardOptions
	}{
		{"plain", ForwardOptions{}},
		{"hook", ForwardOptions{Hook: hook}},
		{"all logits", ForwardOptions{AllLogits: true, Hook: hook}},
	} {
		s := m.NewState(StateOptions{Batch: 2, MaxSeq: 8})
		if s.Hidden(0) != nil {
			t.Fatalf("%s: hidden state before any token", tc.name)
		}
		if err := s.Forward([][]int{ids, ids[:3]}, tc.opt); err != nil {
			t.Fatal(err)
		}
		h := s.Hidden(0)
		if tc.opt.Hook != nil {
			compare(t, tc.name+": hook's ln_f", h, lnf[:C])
		}
		// The logits are the hidden state times the tied head.
		want := make([]float32, V)
		for v := range V {
			var d float32
			for c := range C {
				d += h[c] * m.Weights.LMHead[v*C+c]
			}
			want[v] = d
		}
		compare(t, tc.name+": logits from hidden", s.Logits(0), want)
		s.CopySeq(1, 0)
		if maxDiff(s.Hidden(1), h) != 0 {
			t.Errorf("%s: CopySeq did not copy the hidden state", tc.name)
		}
	}
}
