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
	return ew.err
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
