package generate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// GenerateBatch continues several prompts, each as Generate would on its
// own, as one batch of a gpt2.State: the prompts (of any lengths) are
// prefilled together in one Forward (split by the State into passes of at
// most 512 rows), and then every still-running sequence decodes one token
// per step in one Forward, so each step reads the weights once for all of
// them. Each sequence has its own sampler and ends on its own (EOS, Stop,
// MaxNewTokens, the context), leaving the batch; a prompt that already
// fills the model's context ends at once with Finish "context", as with
// Generate.
//
// Each prompt is its own generation: every one draws from the random
// stream Generate uses for a single sequence (stream 0 of Options.Seed),
// so result i has the ids Generate gives for prompts[i] alone with the
// same options, but for rare float-rounding differences of the batched
// matrix products (which also round Logprobs a little differently). Greedy
// decoding is batched too. MaxNewTokens, MinNewTokens and MinLength apply
// to every prompt (MinLength counts each prompt's own length).
//
// Stats of result i: PrefillTokens and DecodeTokens are that prompt's own
// counts (what Generate would report for it), PrefillSeconds and
// DecodeSeconds the wall times of the whole batch's prefill and decode
// loop, the same for every result.
//
// The batch's key/value caches and logits must fit in MaxBeamBytes (an
// error otherwise: use smaller batches or fewer tokens). OnToken must be
// nil (results come at the end). The context is checked before every
// decoding step.
func GenerateBatch(ctx context.Context, m *gpt2.Model, prompts [][]int, opt Options, dec Decoder) ([]*Result, error) {
	return generateBatch(ctx, GPT2(m), prompts, opt, dec)
}

// generateBatch is GenerateBatch for any LM.
func generateBatch(ctx context.Context, lm LM, prompts [][]int, opt Options, dec Decoder) ([]*Result, error) {
	nPos := lm.MaxLen()
	n := len(prompts)
	if n == 0 {
		return nil, errors.New("generate: no prompts")
	}
	for i, p := range prompts {
		if err := checkPrompt(lm, p); err != nil {
			return nil, fmt.Errorf("%w (prompt %d)", err, i)
		}
	}
	if err := opt.check(dec); err != nil {
		return nil, err
	}
	if opt.OnToken != nil {
		return nil, errors.New("generate: OnToken streams one sequence: it cannot be used with a batch of prompts")
	}
	if err := opt.checkForced(lm.VocabSize()); err != nil {
		return nil, err
	}
	lm, err := withHook(lm, opt.Hook)
	if err != nil {
		return nil, err
	}
	maxSeq, total := 0, 0
	for _, p := range prompts {
		maxSeq = max(maxSeq, min(len(p)+opt.MaxNewTokens, nPos))
		total += len(p)
	}
	rt := newRetrieval(&opt, nPos)
	maxSeq = rt.maxSeq(nPos, maxSeq)
	// The sequences' key/value caches, logits and sampler buffers.
	if need := cacheBytes(lm, n, maxSeq, 4); need > MaxBeamBytes {
		return nil, fmt.Errorf("generate: a batch of %d prompts of up to %d positions needs %.1f GiB for its caches and logits, more than the %d GiB limit: use smaller batches or fewer tokens",
			n, maxSeq, float64(need)/(1<<30), MaxBeamBytes>>30)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	eos := opt.eosFor(lm.EOSTokenID())
	res := make([]*Result, n)
	runs := make([]seqRun, n)
	seqs := make([]Sequence, n)
	step := make([][]int, n)
	live := 0
	for i, p := range prompts {
		P := len(p)
		runs[i] = seqRun{sampler: newSampler(opt.Sampling, opt.extra(eos, P, nPos), 0),
			all: make([]int, P, min(P+opt.MaxNewTokens, nPos)), st: streamer{stop: opt.Stop, dec: dec}}
		copy(runs[i].all, p)
		seqs[i] = Sequence{IDs: []int{}, Logprobs: []float32{}, Finish: "length"}
		res[i] = &Result{PromptIDs: append([]int(nil), p...), Stats: Stats{PrefillTokens: P}}
		if P >= nPos { // the prompt fills the context: nothing to run
			seqs[i].Finish, runs[i].done = "context", true
			continue
		}
		first, err := rt.prompt(ctx, i, p)
		if err != nil {
			return nil, fmt.Errorf("%w (prompt %d)", err, i)
		}
		step[i] = first
		res[i].Stats.PrefillTokens = len(first)
		total += len(first) - P
		live++
	}
	// MaxRows: the prompts in as few passes of 512 rows as they need, and
	// one decoding step of every sequence in one pass.
	s, err := lm.NewCache(n, maxSeq, min(max(total, n), 512))
	if err != nil {
		return nil, err
	}

	t0 := time.Now()
	if live > 0 {
		if err := s.Forward(step); err != nil {
			return nil, err
		}
	}
	prefill := time.Since(t0).Seconds()
	t1 := time.Now()
	if i, err := decodeRuns(ctx, s, &rt, runs, seqs, live, eos, opt.MaxNewTokens, nPos, nil); err != nil {
		if i >= 0 {
			return nil, fmt.Errorf("%w (prompt %d)", err, i)
		}
		return nil, err
	}
	decode := time.Since(t1).Seconds()
	for i, r := range res {
		sq := seqs[i]
		r.IDs, r.Logprobs, r.Finish = sq.IDs, sq.Logprobs, sq.Finish
		r.Text = runs[i].st.text()
		r.Stats.PrefillSeconds, r.Stats.DecodeSeconds = prefill, decode
		r.Stats.DecodeTokens = runs[i].fed
		r.Stats.ContextTokens = runs[i].rebuilt
	}
	return res, nil
}
