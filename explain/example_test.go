package explain_test

import (
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/explain"
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
