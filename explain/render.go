package explain

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText writes a terminal view of r: for each generated token, the
// earlier tokens with their attribution (ANSI background colours when color
// is set, percentages otherwise), then the rankings table, watched tokens,
// NMF factors and intervention results.
func WriteText(w io.Writer, r *Result, color bool) error {
	ew := &errWriter{w: w}
	P := r.PromptLength
	G := len(r.IDs) - P
	ew.printf("prompt: %s\n", quoteJoin(r.Tokens[:P]))
	ew.printf("output: %s\n", quoteJoin(r.Tokens[P:]))
	methods := sortedMethods(r.Attributions)
	for _, m := range methods {
		ew.printf("\n%s attributions (target: %s; each row sums to 100%%)\n", m, r.Target)
		for i := 0; i < G; i++ {
			scores := r.Attributions[m][i]
			ew.printf("  %-14s", quote(r.Tokens[P+i]))
			maxv := 0.0
			for _, s := range scores {
				maxv = max(maxv, s)
			}
			for j, s := range scores {
				tok := r.Tokens[j]
				if color {
					ew.printf("%s%s\x1b[0m", shade(s, maxv), visible(tok))
				} else {
					ew.printf(" %s=%.1f%%", quote(tok), 100*s)
				}
			}
			if color {
				top := argmax(scores)
				ew.printf("   (top: %s %.1f%%)", quote(r.Tokens[top]), 100*scores[top])
			}
			ew.printf("\n")
		}
	}
	if len(r.IGCompleteness) > 0 {
		ew.printf("\nintegrated gradients completeness (%d steps): ", r.IGSteps)
		worst := 0.0
		for _, c := range r.IGCompleteness {
			worst = max(worst, c.AbsErr)
		}
		ew.printf("max |Σattr − (F(x)−F(0))| = %.3g\n", worst)
	}
	if len(r.Rankings) > 0 && G > 0 {
		ew.printf("\nrankings of each output token by layer (logit lens: %s; 1 = top)\n", r.LogitLens)
		ew.printf("  %-8s", "layer")
		for i := 0; i < G; i++ {
			ew.printf(" %8s", clip(visible(r.Tokens[P+i]), 8))
		}
		ew.printf("\n")
		for l, row := range r.Rankings {
			ew.printf("  %-8d", l+1)
			for _, rank := range row {
				if color {
					ew.printf(" %s%8d\x1b[0m", rankShade(rank), rank)
				} else {
					ew.printf(" %8d", rank)
				}
			}
			ew.printf("\n")
		}
	}
	if wt := r.RankingsWatch; wt != nil {
		ew.printf("\nrankings_watch at position %d (after %s)\n  %-8s", wt.Position, quote(r.Tokens[wt.Position]), "layer")
		for _, t := range wt.Tokens {
			ew.printf(" %10s", clip(quote(t), 10))
		}
		ew.printf("\n")
		for l, row := range wt.Ranks {
			ew.printf("  %-8d", l+1)
			for _, rank := range row {
				ew.printf(" %10d", rank)
			}
			ew.printf("\n")
		}
	}
	if nm := r.NMF; nm != nil {
		ew.printf("\nNMF of MLP activations, layers %d-%d: %d factors, relative reconstruction error %.4f\n", nm.FromLayer, nm.ToLayer, nm.Components, nm.RelError)
		for k, f := range nm.Factors {
			top := argmax(f)
			ew.printf("  factor %-2d %s  peak at %s\n", k, sparkline(f), quote(r.Tokens[top]))
		}
	}
	if iv := r.Intervention; iv != nil {
		ew.printf("\nintervention (greedy): baseline %s\n", quoteJoin(iv.BaselineText))
		ew.printf("                       changed  %s\n", quoteJoin(iv.ChangedText))
	}
	if rt := r.Retrieval; rt != nil {
		writeKNN(ew, rt.KNN)
		writeRALM(ew, r, rt.RALM)
	}
	return ew.err
}

// textNeighbors is how many neighbours the text view shows per token.
const textNeighbors = 3

// writeKNN writes the kNN-LM section: per output token, p_LM → p_mix and
// the neighbours with the largest weight.
func writeKNN(ew *errWriter, k *KNNExplanation) {
	if k == nil {
		return
	}
	ew.printf("\nkNN-LM (λ %g, k %d, T %g", k.Lambda, k.K, k.Temperature)
	if k.Datastore != "" {
		ew.printf(", datastore %s", visible(k.Datastore))
	}
	ew.printf("): p = λ·p_kNN + (1−λ)·p_LM; how the retrieved neighbours moved each output token\n")
	for _, t := range k.Tokens {
		ew.printf("  %-14s p_LM %5.1f%% → p_mix %5.1f%% (%+.1f pts; rank %d → %d); p_kNN %.1f%% from %d of %d neighbours\n",
			quote(t.Token), 100*t.PLM, 100*t.PMix, 100*t.Change, t.RankLM, t.RankMix, 100*t.PKNN, t.Agreeing, t.Retrieved)
		for j, n := range t.Neighbors[:min(textNeighbors, len(t.Neighbors))] {
			mark := " "
			if n.Match {
				mark = "✓"
			}
			ew.printf("      %d. %s weight %5.1f%%  d %-8.4g …%s [%s]\n", j+1, mark, 100*n.Weight, n.Distance,
				clipLeft(visible(strings.Join(n.Context, "")), 48), visible(n.Next))
		}
	}
}

// writeRALM writes the in-context RALM section: the passages and, per
// output token, the share of its attribution on them.
func writeRALM(ew *errWriter, r *Result, x *RALMExplanation) {
	if x == nil {
		return
	}
	ew.printf("\nin-context RALM: retrieved once for the prompt")
	if x.Query != "" {
		ew.printf(" (query: its last %d tokens at most, %s)", x.QueryTokens, quote(clip(x.Query, 60)))
	}
	ew.printf("; the model read %d passage tokens before the prompt", x.PassageTokens)
	if x.CutTokens > 0 {
		ew.printf(" (%d more cut to fit)", x.CutTokens)
	}
	ew.printf(":\n  %s\n", quote(clip(x.PassageText, 200)))
	for i, p := range x.Passages {
		ew.printf("  passage %d", i+1)
		if p.Source != "" {
			ew.printf(" (%s)", visible(p.Source))
		}
		ew.printf(" score %.4g: %s\n", p.Score, quote(clip(p.Text, 120)))
	}
	if x.Method == "" {
		return
	}
	ew.printf("  share of each output token's %s attribution on the passage tokens, and its top passage tokens (token@position):\n", x.Method)
	P := r.PromptLength
	for i, t := range x.Tokens {
		ew.printf("  %-14s %5.1f%%  ", quote(r.Tokens[P+i]), 100*t.Share[x.Method])
		for j, s := range t.Top {
			if j > 0 {
				ew.printf(", ")
			}
			ew.printf("%s@%d %.1f%%", quote(s.Token), s.Position, 100*s.Score)
		}
		ew.printf("\n")
	}
}

// clipLeft keeps the last n runes of s.
func clipLeft(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[len(r)-n:])
	}
	return s
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func sortedMethods(m map[string][][]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quoteJoin(toks []string) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(t))
	}
	return b.String()
}

// quote puts a token in double quotes for the text view, its control
// characters made visible (tokens from DisplayToken have none left; other
// TokenText functions may).
func quote(s string) string { return `"` + visible(s) + `"` }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// visible makes a token safe and visible on a terminal: newlines become ↵
// and other control characters are escaped, so a token cannot move the
// cursor or change colours.
func visible(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune('↵')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// shade returns an ANSI 256-colour background: white to deep blue-violet as
// v approaches vmax.
func shade(v, vmax float64) string {
	f := 0.0
	if vmax > 0 {
		f = v / vmax
	}
	// 24-step grey ramp is unreadable; use the 6x6x6 cube from white to purple.
	steps := []int{231, 225, 219, 213, 177, 141, 135, 99, 93, 57}
	c := steps[min(int(f*float64(len(steps)-1)+0.5), len(steps)-1)]
	fg := 16
	if c == 93 || c == 57 || c == 99 {
		fg = 231
	}
	return fmt.Sprintf("\x1b[48;5;%dm\x1b[38;5;%dm", c, fg)
}

func rankShade(rank int) string {
	switch {
	case rank == 1:
		return "\x1b[42;30m"
	case rank <= 10:
		return "\x1b[43;30m"
	case rank <= 100:
		return "\x1b[33m"
	}
	return ""
}

func argmax(x []float64) int {
	b := 0
	for i, v := range x {
		if v > x[b] {
			b = i
		}
	}
	return b
}

func sparkline(f []float64) string {
	bars := []rune("▁▂▃▄▅▆▇█")
	m := 0.0
	for _, v := range f {
		m = max(m, v)
	}
	var b strings.Builder
	for _, v := range f {
		i := 0
		if m > 0 {
			i = int(v / m * float64(len(bars)-1))
		}
		b.WriteRune(bars[i])
	}
	return b.String()
}
