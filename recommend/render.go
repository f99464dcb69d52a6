package recommend

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes r as loupe recommend eval prints it: hit-rate@K and
// MRR@K of both methods, then the counts.
func (r *EvalResult) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "method\thit-rate@%d\tMRR@%d\n", r.K, r.K)
	fmt.Fprintf(tw, "embedding profile\t%.4f\t%.4f\n", r.Embedding.HitRate, r.Embedding.MRR)
	fmt.Fprintf(tw, "most popular\t%.4f\t%.4f\n", r.Popular.HitRate, r.Popular.MRR)
	tw.Flush()
	_, err := fmt.Fprintf(w, "%d held-out items (%d sessions skipped: no known prefix item)\n", r.Questions, r.Skipped)
	return err
}
