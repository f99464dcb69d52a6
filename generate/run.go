package generate

import "context"

// Output is what Pipeline.Run generated: one sequence, several independent
// samples, or beam search's best sequences.
type Output struct {
	PromptIDs []int
	Sequences []Sequence // best first after a beam search; in the order of their random streams for samples
	Beams     bool       // from beam search: each Sequence.Score is set
	Stats     Stats
}

// Run generates for prompt with options resolved by Resolve: beam search
// when b.NumBeams > 1 (BeamSearch), b.NumReturnSequences independent
// samples when it is above 1 (GenerateN), else one sequence (Generate,
// streamed to opt.OnToken).
func (p *Pipeline) Run(ctx context.Context, prompt []int, opt Options, b Beams) (*Output, error) {
	dec := p.Decoder()
	switch {
	case b.NumBeams > 1:
		r, err := BeamSearch(ctx, p.Model, prompt, opt, b, dec)
		if err != nil {
			return nil, err
		}
		return &Output{PromptIDs: r.PromptIDs, Sequences: r.Sequences, Beams: true, Stats: r.Stats}, nil
	case b.NumReturnSequences > 1:
		r, err := GenerateN(ctx, p.Model, prompt, opt, b.NumReturnSequences, dec)
		if err != nil {
			return nil, err
		}
		return &Output{PromptIDs: r.PromptIDs, Sequences: r.Sequences, Stats: r.Stats}, nil
	}
	r, err := Generate(ctx, p.Model, prompt, opt, dec)
	if err != nil {
		return nil, err
	}
	sq := Sequence{IDs: r.IDs, Text: r.Text, Logprobs: r.Logprobs, Finish: r.Finish}
	return &Output{PromptIDs: r.PromptIDs, Sequences: []Sequence{sq}, Stats: r.Stats}, nil
}
