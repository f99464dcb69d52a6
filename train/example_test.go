package train_test

import (
	"context"
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/train"
)

// Train a small GPT-2 from scratch on a token stream and watch the
// held-out loss fall.
func Example() {
	cfg := gpt2.Config{NLayer: 2, NHead: 2, NEmbd: 32, NPositions: 16, VocabSize: 50,
		LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: -1, BOSTokenID: -1}
	m, err := gpt2.Init(cfg, 1)
	if err != nil {
		log.Fatal(err)
	}
	stream := make([]int32, 2000) // a repeating pattern to learn
	for i := range stream {
		stream[i] = int32(i * 7 % 50)
	}
	o := train.DefaultOptions()
	o.BatchSize, o.SeqLen, o.Steps, o.Warmup, o.LR = 8, 16, 40, 4, 1e-2
	o.EvalEvery = 0 // evaluate at the end only
	t, err := train.New(m, stream[:1600], stream[1600:], o)
	if err != nil {
		log.Fatal(err)
	}
	before, _ := t.Evaluate(context.Background())
	if err := t.Run(context.Background(), nil, nil); err != nil {
		log.Fatal(err)
	}
	after := t.History.EvalLosses[len(t.History.EvalLosses)-1].Loss
	fmt.Println("held-out loss fell by more than 2 nats:", before-after > 2)
	// Output: held-out loss fell by more than 2 nats: true
}
