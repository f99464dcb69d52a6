// Command knnlmspeed compares the speed of a kNN-LM datastore build with
// plain forward passes over the same sliding windows of the same tokens
// (issue 13's target: the build at least 0.9x the forward's speed):
//
//	go run ./bench/knnlmspeed [-chapters N] [-rounds R] train.txt
//
// train.txt holds one document per line (bench/knnlm.sh writes it). The
// first N lines are tokenized as loupe knnlm build --documents lines does,
// then, R times in turn: perplexity.Evaluate (forward with the LM head at
// every scored position), a forward over the same windows with no LM head
// (the least a build must compute), and knnlm.Build with a flat index.
// Prints tokens per second of each and the ratios.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/train"
)

func main() {
	chapters := flag.Int("chapters", 100, "documents (lines) of the corpus to use")
	rounds := flag.Int("rounds", 2, "rounds of the three measurements")
	flag.Parse()
	if err := run(flag.Arg(0), *chapters, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "knnlmspeed:", err)
		os.Exit(1)
	}
}

func run(path string, chapters, rounds int) error {
	ctx := context.Background()
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitN(string(b), "\n", chapters+1)
	tmp, err := os.MkdirTemp("", "knnlmspeed")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sub := filepath.Join(tmp, "sub.txt")
	if err := os.WriteFile(sub, []byte(strings.Join(lines[:min(chapters, len(lines))], "\n")), 0o644); err != nil {
		return err
	}
	p, err := generate.Load(ctx, defaults.GPT2, generate.LoadOptions{})
	if err != nil {
		return err
	}
	defer p.Close()
	m := p.Model
	ids, err := knnlm.TokenizeCorpus(m, p.Tokenizer, []string{sub}, train.DocumentLines)
	if err != nil {
		return err
	}
	opt := perplexity.DefaultOptions(m.Config)
	n := float64(len(ids) - 1)
	fmt.Printf("%d tokens, windows of %d stride %d\n", len(ids), opt.MaxLength, opt.Stride)
	var tEval, tFwd, tBuild float64
	for r := range rounds {
		t0 := time.Now()
		if _, err := perplexity.Evaluate(ctx, m, ids, opt, nil); err != nil {
			return err
		}
		t1 := time.Now()
		if err := forwardOnly(m, ids, opt); err != nil {
			return err
		}
		t2 := time.Now()
		if _, err := knnlm.Build(ctx, m, p.Tokenizer, ids, filepath.Join(tmp, fmt.Sprint("ds", r)), knnlm.BuildOptions{Model: defaults.GPT2}); err != nil {
			return err
		}
		t3 := time.Now()
		e, f, bd := t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds()
		fmt.Printf("round %d: eval perplexity %.2fs (%.0f tok/s), forward without LM head %.2fs (%.0f tok/s), build %.2fs (%.0f keys/s)\n",
			r, e, n/e, f, n/f, bd, n/bd)
		tEval, tFwd, tBuild = tEval+e, tFwd+f, tBuild+bd
	}
	fmt.Printf("build speed / eval perplexity speed = %.2f; build speed / forward-without-head speed = %.2f\n", tEval/tBuild, tFwd/tBuild)
	return nil
}

// forwardOnly runs the windows of perplexity.Evaluate without logits or
// hooks: the forward pass a build cannot avoid.
func forwardOnly(m *gpt2.Model, ids []int, opt perplexity.Options) error {
	s := m.NewState(gpt2.StateOptions{Batch: 1, MaxSeq: opt.MaxLength})
	for _, w := range perplexity.Windows(len(ids), opt) {
		if w.First == w.End {
			continue
		}
		s.Reset()
		toks := ids[w.Begin:w.End]
		r0 := w.First - w.Begin - 1
		if r0 > 0 {
			if err := s.Forward([][]int{toks[:r0]}, gpt2.ForwardOptions{}); err != nil {
				return err
			}
		}
		if err := s.Forward([][]int{toks[r0 : len(toks)-1]}, gpt2.ForwardOptions{}); err != nil {
			return err
		}
	}
	return nil
}
