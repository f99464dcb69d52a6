package atomicfile

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "out.html")); err != nil {
		t.Errorf("writable directory: %v", err)
	}
	for path, want := range map[string]string{
		dir:                                    "it is a directory",
		filepath.Join(dir, "absent", "x.html"): "cannot write",
	} {
		if err := CheckWritable(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckWritable(%s) = %v, want %q", path, err, want)
		}
	}
}
