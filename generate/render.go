package generate

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText writes o as loupe generate prints it: each sequence's text
// after the prompt's (without a decoder, its ids separated by spaces),
// under a line "--- sequence i of n ---" when there are several, with the
// score after a beam search.
func (o *Output) WriteText(w io.Writer, dec Decoder) error {
	for i, sq := range o.Sequences {
		switch {
		case len(o.Sequences) == 1:
		case o.Beams:
			fmt.Fprintf(w, "--- sequence %d of %d, score %.4f ---\n", i+1, len(o.Sequences), sq.Score)
		default:
			fmt.Fprintf(w, "--- sequence %d of %d ---\n", i+1, len(o.Sequences))
		}
		var err error
		if dec == nil {
			_, err = fmt.Fprintln(w, joinIDs(sq.IDs))
		} else {
			_, err = fmt.Fprintln(w, dec.Decode(o.PromptIDs)+sq.Text)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func joinIDs(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, " ")
}

// Reported returns the sequences whose timings and ends Stats describes:
// the best one after a beam search, every sample otherwise.
func (o *Output) Reported() []Sequence {
	if o.Beams {
		return o.Sequences[:min(1, len(o.Sequences))]
	}
	return o.Sequences
}

// ContextLimit returns the message that o's sequences filled the model's
// context of nPositions tokens, or "" when none did (the sequences that
// reach the context all end at its length).
func (o *Output) ContextLimit(nPositions int) string {
	for _, sq := range o.Reported() {
		if sq.Finish == "context" {
			return ContextLimitMessage(nPositions, len(o.PromptIDs), len(sq.IDs))
		}
	}
	return ""
}

// ContextLimitMessage says that a generation of generated tokens after
// prompt tokens stopped at the model's context of nPositions tokens.
func ContextLimitMessage(nPositions, prompt, generated int) string {
	return fmt.Sprintf("stopped at the model's context limit of %d tokens (prompt %d + %d generated)", nPositions, prompt, generated)
}

// WriteText writes the timing lines of loupe generate --stats: prefill and
// decode tokens, seconds and tokens per second, and finish (why the
// sequences ended).
func (s Stats) WriteText(w io.Writer, finish string) error {
	_, err := fmt.Fprintf(w, "prefill: %d tokens in %.3f s (%.1f tok/s)\ndecode:  %d tokens in %.3f s (%.1f tok/s)\nfinish:  %s\n",
		s.PrefillTokens, s.PrefillSeconds, rate(s.PrefillTokens, s.PrefillSeconds),
		s.DecodeTokens, s.DecodeSeconds, rate(s.DecodeTokens, s.DecodeSeconds), finish)
	if err == nil && s.ContextTokens > 0 {
		_, err = fmt.Fprintf(w, "context: %d tokens of rebuilt contexts (retrieved passages and the text's tail), in the decode time\n", s.ContextTokens)
	}
	return err
}

func rate(n int, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) / sec
}

// BatchStats returns the timings of the results of one GenerateBatch (or
// GenerateTexts batch): the tokens summed, the seconds of the batch, which
// its results share.
func BatchStats(res []*Result) Stats {
	var t Stats
	for _, r := range res {
		t.PrefillTokens += r.Stats.PrefillTokens
		t.DecodeTokens += r.Stats.DecodeTokens
		t.ContextTokens += r.Stats.ContextTokens
		t.PrefillSeconds, t.DecodeSeconds = r.Stats.PrefillSeconds, r.Stats.DecodeSeconds
	}
	return t
}

// Finishes joins why each sequence ended, separated by spaces.
func Finishes(seqs []Sequence) string {
	f := make([]string, len(seqs))
	for i, sq := range seqs {
		f[i] = sq.Finish
	}
	return strings.Join(f, " ")
}

// WriteSteps returns an Options.OnToken that writes each step's text to w
// as it comes, syncing w when it has a Sync method (a terminal or a file).
func WriteSteps(w io.Writer) func(Step) error {
	return func(s Step) error {
		if s.Text == "" {
			return nil
		}
		_, err := io.WriteString(w, s.Text)
		if f, ok := w.(interface{ Sync() error }); ok {
			f.Sync()
		}
		return err
	}
}

// RunText runs Run and writes its text to w as loupe generate prints it:
// one sequence streams as it is generated (prompt first, a newline at the
// end, even after an error); several sequences, or any without a
// decoder, are written at the end (Output.WriteText). opt.OnToken is
// replaced when streaming.
func (p *Pipeline) RunText(ctx context.Context, w io.Writer, prompt []int, opt Options, b Beams) (*Output, error) {
	dec := p.Decoder()
	if dec == nil || b.NumBeams > 1 || b.NumReturnSequences > 1 {
		o, err := p.Run(ctx, prompt, opt, b)
		if err == nil {
			err = o.WriteText(w, dec)
		}
		return o, err
	}
	if _, err := io.WriteString(w, dec.Decode(prompt)); err != nil {
		return nil, err
	}
	opt.OnToken = WriteSteps(w)
	o, err := p.Run(ctx, prompt, opt, b)
	fmt.Fprintln(w)
	return o, err
}
