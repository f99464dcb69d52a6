package gpt2_test

import (
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// Load a checkpoint directory, run a prompt and decode one more token with
// the KV cache.
func Example() {
	m, err := gpt2.Load("testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s := m.NewState(gpt2.StateOptions{MaxSeq: 16})
	if err := s.Forward([][]int{{3, 17, 42}}, gpt2.ForwardOptions{}); err != nil {
		log.Fatal(err)
	}
	next := argmax(s.Logits(0))
	if err := s.Forward([][]int{{next}}, gpt2.ForwardOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Config.NLayer, m.Config.NEmbd, s.Len(0), next, argmax(s.Logits(0)))
	// Output: 2 64 4 42 42
}

// A hook sees every intermediate value by name; here it zeroes one MLP
// neuron of layer 0 (an intervention) and records the attention shape.
func ExampleHook() {
	m, err := gpt2.Load("testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	var shape []int
	hook := func(a *gpt2.Activation) {
		switch {
		case a.Name == "mlp_act" && a.Layer == 0:
			for t := 0; t < a.Shape[0]; t++ {
				a.Data[t*a.Shape[1]+5] = 0
			}
		case a.Name == "attn_probs" && a.Layer == 1:
			shape = append([]int(nil), a.Shape...)
		}
	}
	logits, err := m.Forward([]int{3, 17, 42, 99}, hook)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(logits), shape)
	// Output: 400 [4 4 4]
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
