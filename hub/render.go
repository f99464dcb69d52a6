package hub

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteText writes r as loupe download prints it: the repository,
// revision and commit, each file with its size on disk, the files the
// repository lacks, then the snapshot directory.
func (r *SnapshotResult) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s@%s (commit %s)\n", r.Repo, r.Revision, r.Commit)
	for _, f := range r.Files {
		size := ""
		if st, err := os.Stat(filepath.Join(r.Dir, filepath.FromSlash(f))); err == nil {
			size = formatSize(st.Size())
		}
		fmt.Fprintf(w, "  %-36s %10s\n", f, size)
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "  not in the repository: %s\n", strings.Join(r.Missing, ", "))
	}
	_, err := fmt.Fprintln(w, r.Dir)
	return err
}

// formatSize formats n bytes as "523 B", "1.5 kB", "548.1 MB".
func formatSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
