package explain_test

import (
	"context"
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// Attribute explains each generated token by the tokens before it.
func ExampleAttribute() {
	m, err := gpt2.Load("testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ids := []int{3, 17, 42, 8, 49, 5, 31, 23} // a 6-token prompt, then 2 output tokens
	a, err := explain.Attribute(m, ids, 6, explain.AttributionOptions{Methods: []string{explain.MethodGradXInput, explain.MethodIntegrated}, IGSteps: 50})
	if err != nil {
		log.Fatal(err)
	}
	for i, scores := range a.Scores[explain.MethodGradXInput] {
		sum := 0.0
		for _, s := range scores {
			sum += s
		}
		fmt.Printf("output %d: %d scores summing to %.3f; IG completeness error below 1e-4: %v\n",
			i, len(scores), sum, a.Completeness[i].RelErr < 1e-4)
	}
	// Output:
	// output 0: 6 scores summing to 1.000; IG completeness error below 1e-4: true
	// output 1: 7 scores summing to 1.000; IG completeness error below 1e-4: true
}

// An Explainer generates after a prompt and explains each generated token:
// which prompt tokens mattered (grad_x_input), and the rank of the token
// after each layer (the logit lens). Token strings show a leading space
// as ␣.
func ExampleExplainer_Explain() {
	ctx := context.Background()
	// A checkpoint directory with its tokenizer files, or a hub id.
	p, err := generate.Load(ctx, "testdata/tiny", generate.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	e, err := explain.New(p)
	if err != nil {
		log.Fatal(err)
	}
	// Decode as loupe generate --greedy --max-new-tokens 2 does.
	prompt := "the hat at"
	ids, err := p.Encode(prompt)
	if err != nil {
		log.Fatal(err)
	}
	var set generate.Settings
	set.DoSample, set.MaxNewTokens = new(false), new(2)
	gen, _, err := p.Resolve(set, len(ids))
	if err != nil {
		log.Fatal(err)
	}
	res, err := e.Explain(ctx, explain.Request{Prompt: prompt, Generate: gen})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("prompt:", res.Tokens[:res.PromptLength])
	for i, scores := range res.Attributions[explain.MethodGradXInput] {
		top := 0
		for j, s := range scores {
			if s > scores[top] {
				top = j
			}
		}
		fmt.Printf("output %s: most from %s; rank by layer %v\n", res.Tokens[res.PromptLength+i], res.Tokens[top],
			[]int{res.Rankings[0][i], res.Rankings[1][i]})
	}
	// Output:
	// prompt: [t he ␣ h a t ␣a t]
	// output \xb5: most from ␣; rank by layer [1 1]
	// output \xc0: most from \xb5; rank by layer [31 1]
}
