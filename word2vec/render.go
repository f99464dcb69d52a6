package word2vec

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteNeighbors writes ns as loupe word2vec similar prints them: a word
// (or item) and score table.
func WriteNeighbors(w io.Writer, ns []Neighbor) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range ns {
		fmt.Fprintf(tw, "%s\t%.4f\n", n.Word, n.Score)
	}
	return tw.Flush()
}

// WriteText writes r as loupe word2vec eval prints it: the analogy
// accuracy per section with the total, then the word-pair correlations.
func (r *EvalResult) WriteText(w io.Writer) error {
	if a := r.Analogies; a != nil {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "section\tcorrect\tseen\taccuracy\t\n")
		for _, s := range append(a.Sections, a.Total) {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t\n", s.Section, s.Correct, s.Seen, 100*s.Accuracy)
		}
		tw.Flush()
		fmt.Fprintf(w, "%d questions, %d skipped as out of vocabulary (%.1f%%)\n", a.Questions, a.OOV, a.OOVRatio)
	}
	if p := r.Pairs; p != nil {
		_, err := fmt.Fprintf(w, "word pairs: Spearman %.4f, Pearson %.4f over %d pairs, %.1f%% out of vocabulary\n", p.Spearman, p.Pearson, p.Pairs, p.OOVRatio)
		return err
	}
	return nil
}
