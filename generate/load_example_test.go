package generate_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/generate"
)

// Load a GPT-2 directory (a hub id such as "gpt2" works the same way,
// through the Hugging Face cache), resolve the settings a caller gives over
// the model's generation_config.json, and generate. loupe generate, loupe
// explain and loupe serve take these same steps.
func ExampleLoad() {
	ctx := context.Background()
	p, err := generate.Load(ctx, "../model/gpt2/testdata/tiny", generate.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	// Greedy, five tokens; everything not set comes from the model's
	// generation_config.json, then the defaults.
	set := generate.Settings{GenerationConfig: generate.GenerationConfig{DoSample: new(false), MaxNewTokens: new(5)}}
	prompt := []int{1, 2, 3} // this tiny model has no tokenizer; p.Encode(text) when it has one
	opt, _, err := p.Resolve(set, len(prompt))
	if err != nil {
		log.Fatal(err)
	}
	res, err := generate.Generate(ctx, p.Model, prompt, opt, p.Decoder())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Tokenizer == nil, p.Config == nil, res.IDs, res.Finish)
	// Output: true true [40 40 40 40 40] length
}

// Resolve merges a model's generation_config.json with a caller's
// settings: the caller's win, the file fills in the rest, and a value
// transformers would refuse is an *OptionError naming the setting.
func ExampleResolve() {
	file, err := generate.ParseGenerationConfig([]byte(`{"do_sample": true, "temperature": 0.7, "max_length": 20}`), 50257)
	if err != nil {
		log.Fatal(err)
	}
	opt, _, err := generate.Resolve(file, generate.Settings{
		GenerationConfig: generate.GenerationConfig{TopK: new(10)},
		Seed:             new(uint64(1)),
	}, 8)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(opt.Greedy, opt.Temperature, opt.TopK, opt.TopP, opt.MaxNewTokens, opt.Seed)

	_, _, err = generate.Resolve(file, generate.Settings{GenerationConfig: generate.GenerationConfig{TopP: new(0.0)}}, 8)
	var oe *generate.OptionError
	if errors.As(err, &oe) {
		fmt.Printf("%s %s: want %s\n", oe.Field, oe.Value, oe.Allowed)
	}
	// Output:
	// false 0.7 10 1 12 1
	// top_p 0: want a number in (0, 1]
}
