package hub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// FuzzHubResponse serves arbitrary status codes and headers (commit, ETag,
// size, Location, error code) and a body, and checks that fetching never
// panics, never writes outside the cache directory, and only ever reports a
// file as available when its snapshot entry holds the served bytes.
func FuzzHubResponse(f *testing.F) {
	f.Add(200, commitA, `"`+gitSHA1([]byte("{}"))+`"`, "", "", "", []byte("{}"))
	f.Add(302, commitA, `"x"`, sha256hex([]byte("abc")), "3", "/cdn/x", []byte("abc"))
	f.Add(307, "", "", "", "", "/other/resolve/main/config.json", []byte(nil))
	f.Add(404, commitA, "", "", "", "", []byte("EntryNotFound"))
	f.Add(200, commitA, `"../../../etc/passwd"`, "", "", "", []byte("x"))
	f.Add(200, "../x", `"abc"`, "", "-5", "", []byte("x"))

	var mu sync.Mutex
	var status int
	var hdr map[string]string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st, h, b := status, hdr, body
		mu.Unlock()
		for k, v := range h {
			if v != "" {
				w.Header().Set(k, v)
			}
		}
		if r.URL.Path == "/cdn/x" || st < 300 || st >= 400 {
			if st >= 300 && st < 400 {
				st = 200
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(st)
			if r.Method == http.MethodGet {
				w.Write(b)
			}
			return
		}
		w.WriteHeader(st)
	}))
	defer srv.Close()

	f.Fuzz(func(t *testing.T, st int, commit, etag, linkedEtag, size, location string, b []byte) {
		if st < 200 || st > 599 {
			return
		}
		if code := st; code == 304 || code == 204 {
			return
		}
		mu.Lock()
		status, body = st, b
		hdr = map[string]string{"X-Repo-Commit": commit, "ETag": etag, "X-Linked-Etag": linkedEtag, "X-Linked-Size": size, "Location": location}
		mu.Unlock()
		root := t.TempDir()
		c := &Client{CacheDir: filepath.Join(root, "cache"), Endpoint: srv.URL, HTTP: srv.Client()}
		res, err := c.Snapshot(context.Background(), "acme/model", "main", []string{"config.json"}, nil)
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.Name() != "cache" {
				t.Fatalf("wrote %s outside the cache", e.Name())
			}
		}
		if err != nil {
			return
		}
		got, rerr := os.ReadFile(filepath.Join(res.Dir, "config.json"))
		if rerr != nil {
			t.Fatalf("reported success but: %v", rerr)
		}
		if string(got) != string(b) {
			t.Fatalf("snapshot holds %q, server sent %q", got, b)
		}
	})
}
