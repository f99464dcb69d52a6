package generate_test

import (
	"context"
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// Greedy decoding of five tokens with a tiny random GPT-2 (no tokenizer:
// the result is ids).
func ExampleGenerate() {
	m, err := gpt2.Load("../model/gpt2/testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, err := generate.Generate(context.Background(), m, []int{1, 2, 3},
		generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 5}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.IDs, res.Finish, res.Stats.PrefillTokens, res.Stats.DecodeTokens)
	// Output: [40 40 40 40 40] length 3 4
}

// Greedy decoding of three prompts of different lengths as one batch:
// each result is the one Generate gives for that prompt alone.
func ExampleGenerateBatch() {
	m, err := gpt2.Load("../model/gpt2/testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	prompts := [][]int{{1, 2, 3}, {5}, {9, 8, 7, 6, 5, 4}}
	res, err := generate.GenerateBatch(context.Background(), m, prompts,
		generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 5}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Println(r.PromptIDs, r.IDs, r.Finish)
	}
	// Output:
	// [1 2 3] [40 40 40 40 40] length
	// [5] [29 29 29 83 83] length
	// [9 8 7 6 5 4] [83 83 83 83 83] length
}

// The processors a Sampling builds, in transformers' order.
func ExampleSampling_Processors() {
	s := generate.Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, RepetitionPenalty: 1.2}
	for _, p := range s.Processors() {
		fmt.Printf("%T\n", p)
	}
	// Output:
	// *generate.RepetitionPenalty
	// *generate.Temperature
	// *generate.TopK
	// *generate.TopP
}

// Beam search with three beams, returning the two best sequences with
// transformers' sequences_scores.
func ExampleBeamSearch() {
	m, err := gpt2.Load("../model/gpt2/testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, err := generate.BeamSearch(context.Background(), m, []int{3, 17, 42}, generate.Options{MaxNewTokens: 8},
		generate.Beams{NumBeams: 3, LengthPenalty: 1, NumReturnSequences: 2}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range res.Sequences {
		fmt.Printf("%v %.3f %s\n", s.IDs, s.Score, s.Finish)
	}
	// Output:
	// [96 62 62 62 62 62 62 62] -3.084 length
	// [29 29 83 83 83 83 83 59] -3.099 length
}

// Options.Hook attaches a gpt2 hook to every forward pass of the decoding
// loop: here an intervention that triples every MLP neuron of the last
// layer from position 3 on (the generated tokens) changes the greedy
// continuation.
func ExampleOptions_hook() {
	m, err := gpt2.Load("../model/gpt2/testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	var ivs []gpt2.Intervention
	for n := range 4 * m.Config.NEmbd {
		ivs = append(ivs, gpt2.Intervention{Layer: m.Config.NLayer - 1, Neuron: n, Positions: []int{3, 4, 5, 6}, Scale: 3})
	}
	for _, hook := range []gpt2.Hook{nil, gpt2.InterventionHook(ivs)} {
		res, err := generate.Generate(context.Background(), m, []int{3, 17, 42},
			generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 5, Hook: hook}, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.IDs)
	}
	// Output:
	// [42 42 29 29 29]
	// [42 46 47 58 55]
}
