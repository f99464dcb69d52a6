package main

import (
	"testing"
)

func TestParseIntervention(t *testing.T) {
	ok := []struct {
		in            string
		layer, neuron int
		pos           []int
		scale         float32
	}{
		{"5:1234=0", 5, 1234, nil, 0},
		{"0:7@3,4=2.5", 0, 7, []int{3, 4}, 2.5},
		{" 1 : 2 @ 0 = -1", 1, 2, []int{0}, -1},
	}
	for _, c := range ok {
		iv, err := parseIntervention(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if iv.Layer != c.layer || iv.Neuron != c.neuron || iv.Scale != c.scale || len(iv.Positions) != len(c.pos) {
			t.Fatalf("%q: got %+v", c.in, iv)
		}
		for i := range c.pos {
			if iv.Positions[i] != c.pos[i] {
				t.Fatalf("%q: positions %v", c.in, iv.Positions)
			}
		}
	}
	for _, bad := range []string{"", "5:3", "5=0", "a:3=0", "5:b=0", "5:3=x", "5:3@=1", "5:3@-1=1", "5:3@1,,2=1"} {
		if _, err := parseIntervention(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseIntervention(f *testing.F) {
	for _, s := range []string{"5:1234=0", "0:7@3,4=2.5", "1:2@0=-1", "=", "@:", "9999999999999999999:1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := parseIntervention(s)
		if err != nil {
			return
		}
		for _, p := range iv.Positions {
			if p < 0 {
				t.Fatalf("%q: negative position %d accepted", s, p)
			}
		}
	})
}
