package defaults

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/loupe-ml/loupe/hub"
)

// TestDirWritesEmbeddedFiles checks that each default model's files land
// whole in the cache, once, and that hub references resolve to them.
func TestDirWritesEmbeddedFiles(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	mu.Lock()
	clear(dirs)
	mu.Unlock()
	for ref, sub := range subdirs {
		var wg sync.WaitGroup
		got := make([]string, 4)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := Dir(ref)
				if err != nil {
					t.Error(err)
				}
				got[i] = d
			}()
		}
		wg.Wait()
		for _, d := range got[1:] {
			if d != got[0] {
				t.Fatalf("%s: directories %v differ", ref, got)
			}
		}
		n := 0
		err := fs.WalkDir(files, sub, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			want, _ := files.ReadFile(p)
			rel, _ := filepath.Rel(sub, filepath.FromSlash(p))
			b, err := os.ReadFile(filepath.Join(got[0], rel))
			if err != nil || !bytes.Equal(b, want) {
				t.Errorf("%s: %s differs from the embedded file (%v)", ref, rel, err)
			}
			n++
			return nil
		})
		if err != nil || n == 0 {
			t.Fatalf("%s: %d files, %v", ref, n, err)
		}
		c := &hub.Client{CacheDir: t.TempDir(), Offline: true}
		d, err := c.ModelDir(context.Background(), ref, []string{"config.json"}, nil)
		if ref == Embed {
			d, err = c.ModelDir(context.Background(), ref, []string{"modules.json"}, nil)
		}
		if err != nil || d != got[0] {
			t.Errorf("hub resolves %s to %q, %v; want %q", ref, d, err, got[0])
		}
	}
	if _, err := Dir("loupe/none"); err == nil {
		t.Error("Dir of an unknown name: no error")
	}
}

// TestMaterializeReplacesPartialCopy checks that a folder left without its
// completion mark (an interrupted writer) is replaced.
func TestMaterializeReplacesPartialCopy(t *testing.T) {
	d := filepath.Join(t.TempDir(), "gpt2-x")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "config.json"), []byte("partial"), 0o644)
	if err := materialize(d, "gpt2"); err != nil {
		t.Fatal(err)
	}
	want, _ := files.ReadFile("gpt2/config.json")
	if b, _ := os.ReadFile(filepath.Join(d, "config.json")); !bytes.Equal(b, want) {
		t.Error("partial copy kept")
	}
}
