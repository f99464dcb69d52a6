package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownloadCommand runs `loupe download` against a minimal fake hub that
// has config.json and nothing else.
func TestDownloadCommand(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/acme/tiny/resolve/") {
			w.Header().Set("X-Error-Code", "RepoNotFound")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		if !strings.HasSuffix(r.URL.Path, "/config.json") || strings.Contains(r.URL.Path, "1_Pooling") {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("ETag", `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`)
		w.Write([]byte(`{"n_layer":1}`))
	}))
	defer srv.Close()
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_TOKEN", "")

	defer func() {
		rootCmd.SetOut(nil)
		resetFlags()
		rootCmd.SetArgs(nil)
		outputFormat = "text"
		downloadFlags.files, downloadFlags.revision, downloadFlags.model = nil, "", ""
	}()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		rootCmd.SetOut(&out)
		resetFlags()
		rootCmd.SetArgs(args)
		downloadFlags.files, downloadFlags.revision = nil, ""
		outputFormat = "text"
		err := rootCmd.Execute()
		downloadFlags.model = ""
		return out.String(), err
	}
	out, err := run("download", "--model", "acme/tiny", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Dir   string   `json:"dir"`
		Files []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if res.Dir != filepath.Join(cache, "models--acme--tiny", "snapshots", commit) || len(res.Files) != 1 || res.Files[0] != "config.json" {
		t.Errorf("download = %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(res.Dir, "config.json")); err != nil || string(b) != `{"n_layer":1}` {
		t.Errorf("config.json = %q, %v", b, err)
	}
	out, err = run("download", "--model", "acme/tiny")
	if err != nil || !strings.Contains(out, res.Dir) || !strings.Contains(out, "config.json") {
		t.Errorf("text output %q, %v", out, err)
	}
	if out, err := run("download", "acme/tiny", "--format", "json"); err != nil || !strings.Contains(out, `"files":["config.json"]`) {
		t.Errorf("positional id: %q, %v", out, err)
	}
	downloadFlags.model = ""
	if _, err := run("download"); err == nil || !strings.Contains(err.Error(), "no model given") {
		t.Errorf("no model: %v", err)
	}
	if _, err := run("download", "--model", "acme/tiny", "--file", "model.safetensors"); err == nil || !strings.Contains(err.Error(), "has no file model.safetensors") {
		t.Errorf("a missing --file: %v", err)
	}
	if _, err := run("download", "--model", "acme/other"); err == nil || !strings.Contains(err.Error(), "acme/other not found") {
		t.Errorf("an unknown repo: %v", err)
	}
	if _, err := run("download", "--model", "acme/tiny@main", "--revision", "v2"); err == nil || !strings.Contains(err.Error(), "different revisions") {
		t.Errorf("conflicting revisions: %v", err)
	}
}
