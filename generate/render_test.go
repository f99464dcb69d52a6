package generate

import (
	"bytes"
	"strings"
	"testing"
)

func TestOutputWriteText(t *testing.T) {
	var b bytes.Buffer
	one := &Output{PromptIDs: []int{1}, Sequences: []Sequence{{IDs: []int{2, 3}, Finish: "length"}}}
	if err := one.WriteText(&b, nil); err != nil || b.String() != "2 3\n" {
		t.Errorf("one sequence without a decoder: %q, %v", b.String(), err)
	}
	b.Reset()
	beams := &Output{PromptIDs: []int{1}, Beams: true, Sequences: []Sequence{{IDs: []int{2}, Score: -0.5, Finish: "eos"}, {IDs: []int{3}, Score: -1, Finish: "context"}}}
	beams.WriteText(&b, nil)
	if want := "--- sequence 1 of 2, score -0.5000 ---\n2\n--- sequence 2 of 2, score -1.0000 ---\n3\n"; b.String() != want {
		t.Errorf("beams:\n%s\nwant\n%s", b.String(), want)
	}
	if got := Finishes(beams.Reported()); got != "eos" {
		t.Errorf("beam search reports %q, want the best sequence's finish", got)
	}
	if msg := beams.ContextLimit(24); msg != "" {
		t.Errorf("ContextLimit = %q for a beam search whose best ended at eos", msg)
	}
	one.Sequences[0].Finish = "context"
	if msg := one.ContextLimit(3); msg != "stopped at the model's context limit of 3 tokens (prompt 1 + 2 generated)" {
		t.Errorf("ContextLimit = %q", msg)
	}
	b.Reset()
	Stats{PrefillTokens: 4, PrefillSeconds: 2, DecodeTokens: 3}.WriteText(&b, "eos")
	if !strings.Contains(b.String(), "prefill: 4 tokens in 2.000 s (2.0 tok/s)\ndecode:  3 tokens in 0.000 s (0.0 tok/s)\nfinish:  eos\n") {
		t.Errorf("stats: %q", b.String())
	}
	got := BatchStats([]*Result{{Stats: Stats{PrefillTokens: 2, DecodeTokens: 5, PrefillSeconds: 1, DecodeSeconds: 3}}, {Stats: Stats{PrefillTokens: 3, DecodeTokens: 1, PrefillSeconds: 1, DecodeSeconds: 3}}})
	if got != (Stats{PrefillTokens: 5, DecodeTokens: 6, PrefillSeconds: 1, DecodeSeconds: 3}) {
		t.Errorf("BatchStats = %+v", got)
	}
}
