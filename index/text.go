package index

import (
	"fmt"
	"io"
	"strings"

	"github.com/loupe-ml/loupe/internal/textfmt"
)

// WriteText writes st as loupe index stats prints it: one "name value"
// line per field, the parameters of its kind, and the sizes.
func (st Stats) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "kind      %s\nmetric    %s\ndim       %d\ncount     %d (%d deleted)\n", st.Kind, st.Metric, st.Dim, st.Count, st.Deleted)
	if st.Model != "" {
		fmt.Fprintf(w, "model     %s\n", st.Model)
	}
	switch st.Kind {
	case HNSW:
		fmt.Fprintf(w, "M         %d (max_m0 %d)\nef_construction %d\nef        %d\nmax level %d\n", st.M, st.MaxM0, st.EfConstruction, st.Ef, st.MaxLevel)
	case Forest:
		fmt.Fprintf(w, "n_trees   %d\nleaf size %d\nnodes     %d\n", st.NTrees, st.LeafSize, st.ForestNodes)
	}
	b := textfmt.Bytes
	_, err := fmt.Fprintf(w, "memory    %s (vectors %s, structure %s), metadata %s, file %s\n",
		b(st.Bytes), b(st.VectorBytes), b(st.StructBytes), b(st.MetadataBytes), b(st.FileBytes))
	return err
}

// WriteText writes what an add did as loupe index add prints it: "added N
// ITEMS[ and replaced R], index now holds LEN (SECONDS)", where items
// names what was added in the plural ("vectors"; singular for one) and
// searchable is the index's Len after it.
func (r AddResult) WriteText(w io.Writer, items string, searchable int) error {
	rep := ""
	if r.Replaced > 0 {
		rep = fmt.Sprintf(" and replaced %d", r.Replaced)
	}
	if r.Added == 1 {
		items = strings.TrimSuffix(items, "s")
	}
	_, err := fmt.Fprintf(w, "added %d %s%s, index now holds %d (%.2fs)\n", r.Added, items, rep, searchable, r.Seconds)
	return err
}
