package embed

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/internal/textfmt"
)

// Describe names m and its pipeline: "NAME (dim D, P pooling, normalized
// B)", with its precision after normalized when it is not float32.
func (m *Model) Describe() string {
	prec := ""
	if p := m.Precision(); p != "float32" {
		prec = ", " + p
	}
	return fmt.Sprintf("%s (dim %d, %s pooling, normalized %v%s)", m.Name(), m.Dim(), m.Pooling(), m.Normalized(), prec)
}

// FormatVector formats v as its components (8 significant digits)
// separated by spaces.
func FormatVector(v []float32) string {
	var sb strings.Builder
	for i, x := range v {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.FormatFloat(float64(x), 'g', 8, 32))
	}
	return sb.String()
}

// WriteSimilarity writes the texts, numbered (one line each, cut to 100
// runes), and then their similarity matrix sim (from Similarity) as a
// table with numbered rows and columns.
func WriteSimilarity(w io.Writer, texts []string, sim [][]float64) error {
	bw := bufio.NewWriter(w)
	for i, t := range texts {
		fmt.Fprintf(bw, "[%d] %s\n", i, textfmt.OneLine(t, 100))
	}
	fmt.Fprint(bw, "\n     ")
	for j := range texts {
		fmt.Fprintf(bw, " %6s", fmt.Sprintf("[%d]", j))
	}
	fmt.Fprintln(bw)
	for i := range sim {
		fmt.Fprintf(bw, "%5s", fmt.Sprintf("[%d]", i))
		for _, v := range sim[i] {
			fmt.Fprintf(bw, " %6.3f", v)
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}
