package embed

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/hub"
)

// fakeHub serves a directory as the Hugging Face repo "org/st-mini" at
// {endpoint}/{repo}/resolve/{revision}/{file}, with the headers the hub
// client checks (X-Repo-Commit, ETag).
func fakeHub(t *testing.T, dir string, skip string) *httptest.Server {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := "/org/st-mini/resolve/"
		if !strings.HasPrefix(r.URL.Path, prefix) {
			w.Header().Set("X-Error-Code", "RepoNotFound")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rest := strings.TrimPrefix(r.URL.Path, prefix)
		_, name, _ := strings.Cut(rest, "/")
		w.Header().Set("X-Repo-Commit", commit)
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || name == skip || strings.Contains(name, "..") {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		s := sha1.New()
		fmt.Fprintf(s, "blob %d\x00", len(b))
		s.Write(b)
		w.Header().Set("ETag", `"`+hex.EncodeToString(s.Sum(nil))+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(b)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoadFromHub(t *testing.T) {
	g := readGoldenST(t)
	srv := fakeHub(t, filepath.Join("testdata", "st"), "")
	client := &hub.Client{CacheDir: t.TempDir(), Endpoint: srv.URL, HTTP: srv.Client()}
	m, err := LoadWith(context.Background(), "org/st-mini", Options{Client: client, Warn: func(s string) { t.Error(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Name() != "org/st-mini" || !m.Normalized() || m.MaxSeqLength() != 256 {
		t.Fatalf("name %q normalized %v max %d", m.Name(), m.Normalized(), m.MaxSeqLength())
	}
	got, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(t, got, g.NormalizedMean); d > 1e-4 {
		t.Errorf("hub model differs from golden by %g", d)
	}
	// The files are now cached: offline loading works.
	client.Offline = true
	m2, err := LoadWith(context.Background(), "org/st-mini", Options{Client: client})
	if err != nil {
		t.Fatalf("offline from cache: %v", err)
	}
	m2.Close()
}

func TestHubMissingPoolingConfig(t *testing.T) {
	srv := fakeHub(t, filepath.Join("testdata", "st"), "1_Pooling/config.json")
	client := &hub.Client{CacheDir: t.TempDir(), Endpoint: srv.URL, HTTP: srv.Client()}
	_, err := LoadWith(context.Background(), "org/st-mini", Options{Client: client})
	if err == nil || !strings.Contains(err.Error(), "1_Pooling/config.json") {
		t.Errorf("error %v, want one naming 1_Pooling/config.json", err)
	}
	if _, err := LoadWith(context.Background(), "org/other", Options{Client: client}); err == nil {
		t.Error("unknown repo loaded")
	}
}
