package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new contents")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "new contents" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("destination changed to %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
}

func TestUnwritableDirectory(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "f"), nil); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

func TestSymlinkTargetReplaced(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", link); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := WriteFile(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced by a regular file (%v)", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Fatalf("target holds %q, want new", got)
	}
}

func TestDeviceWrittenInPlace(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip("no /dev/null")
	}
	if err := WriteFile("/dev/null", []byte("discard")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat("/dev/null")
	if err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", fi.Mode(), err)
	}
}

func TestDirectoryIsAnError(t *testing.T) {
	if err := WriteFile(t.TempDir(), []byte("x")); err == nil {
		t.Fatal("want an error when the destination is a directory")
	}
}

func TestErrorNamesDestinationOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	err := Write(p, func(w io.Writer) error {
		_, err := w.(*os.File).Seek(-1, io.SeekStart)
		return err
	})
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), ".tmp-") || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %q should name %s and no temporary file", err, p)
	}
}

// TestRemoveStale: the temporary file of a Write that never finished (here
// one that panicked, as a killed process stops) is removed, and nothing that
// only looks like one.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		Write(p, func(w io.Writer) error {
			w.Write([]byte("half"))
			panic("killed")
		})
	}()
	keep := []string{"f", ".f.tmp-", ".f.tmp-12a", "f.tmp-1", ".g.tmp-1", ".f.tmp-1.bak", ".f.tmp-7"}
	for _, n := range keep[1:6] {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, ".f.tmp-7"), 0o755)
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(keep)+1 {
		t.Fatalf("%d files before, want %d (the killed write's temporary file among them)", len(entries), len(keep)+1)
	}
	removed, err := RemoveStale(p)
	if err != nil || len(removed) != 1 || !strings.HasPrefix(filepath.Base(removed[0]), ".f.tmp-") {
		t.Fatalf("removed %v, %v; want the one temporary file", removed, err)
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("destination %q, want the old contents", b)
	}
	if removed, err := RemoveStale(filepath.Join(t.TempDir(), "none")); err != nil || removed != nil {
		t.Errorf("empty directory: %v, %v", removed, err)
	}
}
