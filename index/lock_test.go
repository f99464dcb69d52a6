package index

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLockDirSerialisesWriters runs writers that each open the index, add
// vectors and save, at the same time. Under the lock every add survives;
// without it most of them would start from the same file and overwrite
// each other's.
func TestLockDirSerialisesWriters(t *testing.T) {
	dir := t.TempDir()
	const dim, writers, per = 8, 6, 50
	x, err := New(testOptions(Options{Kind: Flat, Metric: L2, Dim: dim}))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add(Batch{Vectors: randomData(10, dim, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	x.Close()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			l, err := LockDir(dir, nil)
			if err != nil {
				errs <- err
				return
			}
			defer l.Unlock()
			x, err := Open(dir)
			if err != nil {
				errs <- err
				return
			}
			defer x.Close()
			if err := x.Add(Batch{Vectors: randomData(per, dim, int64(w+2))}); err != nil {
				errs <- err
				return
			}
			time.Sleep(20 * time.Millisecond) // widen the window a lost update needs
			errs <- x.Save(dir)
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if want := 10 + writers*per; y.Len() != want {
		t.Fatalf("after %d concurrent locked adds the index holds %d vectors, want %d", writers, y.Len(), want)
	}
	if y.NextID() != uint64(10+writers*per) {
		t.Fatalf("NextID = %d, want %d", y.NextID(), 10+writers*per)
	}
}

func TestLockDirWaitsAndReports(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFileName)); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	waited := make(chan bool, 1)
	got := make(chan *DirLock)
	go func() {
		l2, err := LockDir(dir, func() { waited <- true })
		if err != nil {
			t.Error(err)
		}
		got <- l2
	}()
	select {
	case <-waited:
	case <-got:
		t.Fatal("a second LockDir got the lock while the first held it")
	case <-time.After(5 * time.Second):
		t.Fatal("the second LockDir neither waited nor returned")
	}
	select {
	case <-got:
		t.Fatal("the second LockDir returned before the first unlocked")
	case <-time.After(50 * time.Millisecond):
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2 := <-got
	if err := l2.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l2.Unlock(); err != nil { // twice is harmless
		t.Fatal(err)
	}
}

func TestLockDirErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LockDir(filepath.Join(dir, "missing"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing dir: err = %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := LockDir(f, nil); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("file: err = %v", err)
	}
}

func TestNextIDAndHas(t *testing.T) {
	x, err := New(testOptions(Options{Kind: Flat, Metric: L2, Dim: 2}))
	if err != nil {
		t.Fatal(err)
	}
	if x.NextID() != 0 || x.Has(0) {
		t.Fatalf("empty: NextID %d, Has(0) %v", x.NextID(), x.Has(0))
	}
	if err := x.Add(Batch{Vectors: []float32{1, 0, 0, 1}, IDs: []uint64{5, 9}}); err != nil {
		t.Fatal(err)
	}
	if err := x.Delete(9); err != nil {
		t.Fatal(err)
	}
	if !x.Has(5) || x.Has(9) || x.Has(6) || x.NextID() != 10 {
		t.Fatalf("Has(5) %v Has(9) %v Has(6) %v NextID %d, want true false false 10", x.Has(5), x.Has(9), x.Has(6), x.NextID())
	}
	dir := t.TempDir()
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if !y.Has(5) || y.Has(9) || y.NextID() != 10 {
		t.Fatalf("reopened: Has(5) %v Has(9) %v NextID %d", y.Has(5), y.Has(9), y.NextID())
	}
}

// TestStaleTempRemoved: the temporary file of a killed save is removed by the
// next LockDir, Open or Save, but not while another holder of the lock may
// be saving; files that only look like one stay.
func TestStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	x, err := New(testOptions(Options{Kind: Flat, Metric: L2, Dim: 4}))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add(Batch{Vectors: randomData(5, 4, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "."+FileName+".tmp-2718281828")
	decoys := []string{"." + FileName + ".tmp-x1", "notes.tmp-1", FileName + ".tmp-1"}
	for _, d := range decoys {
		os.WriteFile(filepath.Join(dir, d), nil, 0o644)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for _, how := range []string{"open", "save", "lock"} {
		os.WriteFile(stale, []byte("half an index"), 0o644)
		l, err := LockDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if exists(stale) {
			t.Fatalf("%s: LockDir left the temporary file", how)
		}
		os.WriteFile(stale, []byte("a save in progress"), 0o644)
		y, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !exists(stale) {
			t.Fatalf("%s: Open removed a temporary file while the lock was held", how)
		}
		l.Unlock()
		switch how {
		case "open":
			z, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			z.Close()
		case "save":
			if err := y.Save(dir); err != nil {
				t.Fatal(err)
			}
		case "lock":
			l, err := LockDir(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			l.Unlock()
		}
		y.Close()
		if exists(stale) {
			t.Errorf("%s: the temporary file of a killed save is still there", how)
		}
	}
	for _, d := range decoys {
		if !exists(filepath.Join(dir, d)) {
			t.Errorf("%s was removed", d)
		}
	}
}
