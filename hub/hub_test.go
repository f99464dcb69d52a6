package hub

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "89abcdef0123456789abcdef0123456789abcdef"
)

var (
	weights = bytes.Repeat([]byte("0123456789abcdefghij"), 5000) // 100 kB "LFS" file
	config  = []byte(`{"model_type":"gpt2"}`)
)

// setup returns a fake hub with "openai-community/gpt2" (also reachable as
// "gpt2", a renamed repo), a private repo and a gated one, and a client
// using a fresh cache.
func setup(t *testing.T) (*fakeHub, *Client) {
	h := newFakeHub(t)
	h.repos["openai-community/gpt2"] = &fakeRepo{
		commit:   commitA,
		branches: map[string]string{"v1": commitB},
		files: map[string][]byte{
			"config.json":           config,
			"model.safetensors":     weights,
			"tokenizer.json":        []byte(`{"version":"1.0"}`),
			"1_Pooling/config.json": []byte(`{"pooling_mode_mean_tokens":true}`),
		},
		lfs: map[string]bool{"model.safetensors": true},
	}
	h.renamed["gpt2"] = "openai-community/gpt2"
	h.repos["acme/private"] = &fakeRepo{commit: commitA, files: map[string][]byte{"config.json": config, "model.safetensors": weights[:5000]},
		lfs: map[string]bool{"model.safetensors": true}, private: true}
	h.repos["acme/gated"] = &fakeRepo{commit: commitA, files: map[string][]byte{"config.json": config}, gated: true}
	c := &Client{CacheDir: filepath.Join(t.TempDir(), "hub"), Endpoint: h.srv.URL, HTTP: h.srv.Client()}
	return h, c
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatalf("%s is not a symlink: %v", p, err)
	}
	return l
}

func TestModelDirLayout(t *testing.T) {
	h, c := setup(t)
	ctx := context.Background()
	dir, err := c.ModelDir(ctx, "gpt2", []string{"config.json", "model.safetensors"},
		[]string{"tokenizer.json", "vocab.txt", "1_Pooling/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	// The folder of the id as typed, like huggingface_hub.
	folder := filepath.Join(c.CacheDir, "models--gpt2")
	if want := filepath.Join(folder, "snapshots", commitA); dir != want {
		t.Fatalf("dir = %s, want %s", dir, want)
	}
	if b, err := os.ReadFile(filepath.Join(folder, "refs", "main")); err != nil || string(b) != commitA {
		t.Errorf("refs/main = %q, %v; want %s with no newline", b, err, commitA)
	}
	checks := []struct {
		file, link string
		data       []byte
	}{
		{"config.json", "../../blobs/" + gitSHA1(config), config},
		{"model.safetensors", "../../blobs/" + sha256hex(weights), weights},
		{"1_Pooling/config.json", "../../../blobs/" + gitSHA1([]byte(`{"pooling_mode_mean_tokens":true}`)), nil},
	}
	for _, ck := range checks {
		p := filepath.Join(dir, filepath.FromSlash(ck.file))
		if l := readLink(t, p); l != filepath.FromSlash(ck.link) {
			t.Errorf("%s -> %s, want %s", ck.file, l, ck.link)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if ck.data != nil && !bytes.Equal(got, ck.data) {
			t.Errorf("%s: content differs", ck.file)
		}
	}
	if _, err := os.Stat(filepath.Join(folder, ".no_exist", commitA, "vocab.txt")); err != nil {
		t.Errorf("absence of vocab.txt not recorded: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "vocab.txt")); !os.IsNotExist(err) {
		t.Errorf("vocab.txt should be absent from the snapshot")
	}
	left, _ := filepath.Glob(filepath.Join(folder, "blobs", "*.incomplete"))
	if len(left) > 0 {
		t.Errorf("incomplete files left: %v", left)
	}

	// A second run asks the hub once (to resolve main) and downloads nothing.
	h.resetLog()
	dir2, err := c.ModelDir(ctx, "gpt2", []string{"config.json", "model.safetensors"},
		[]string{"tokenizer.json", "vocab.txt", "1_Pooling/config.json"})
	if err != nil || dir2 != dir {
		t.Fatalf("second ModelDir = %s, %v", dir2, err)
	}
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "GET") {
			t.Errorf("second run downloaded again: %s", r)
		}
	}
	if n := len(h.requests()); n > 2 { // HEAD gpt2 (redirect) + HEAD openai-community/gpt2
		t.Errorf("second run made %d requests, want at most 2: %v", n, h.requests())
	}

	// Offline, the same call works from the cache alone.
	off := &Client{CacheDir: c.CacheDir, Endpoint: "http://127.0.0.1:1", Offline: true}
	h.resetLog()
	dir3, err := off.ModelDir(ctx, "gpt2", []string{"config.json", "model.safetensors"}, []string{"tokenizer.json", "vocab.txt", "merges.txt"})
	if err != nil || dir3 != dir {
		t.Fatalf("offline ModelDir = %s, %v", dir3, err)
	}
	if len(h.requests()) != 0 {
		t.Errorf("offline mode made requests: %v", h.requests())
	}
}

func TestOfflineErrors(t *testing.T) {
	_, c := setup(t)
	ctx := context.Background()
	if _, err := c.ModelDir(ctx, "gpt2", []string{"config.json"}, nil); err != nil {
		t.Fatal(err)
	}
	off := &Client{CacheDir: c.CacheDir, Endpoint: "http://127.0.0.1:1", Offline: true}
	cases := []struct {
		ref  string
		req  []string
		want []string
	}{
		{"gpt2", []string{"config.json", "model.safetensors"}, []string{"gpt2@main", "model.safetensors", "not in the cache", c.CacheDir, "HF_HUB_OFFLINE", "loupe download --model gpt2"}},
		{"acme/other", []string{"config.json"}, []string{"acme/other@main", "not in the cache", filepath.Join(c.CacheDir, "models--acme--other")}},
		{"gpt2@v1", []string{"config.json"}, []string{"gpt2@v1", "refs"}},
	}
	for _, tc := range cases {
		_, err := off.ModelDir(ctx, tc.ref, tc.req, nil)
		if !errors.Is(err, ErrOffline) {
			t.Errorf("%s: err = %v, want ErrOffline", tc.ref, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.ref, err, w)
			}
		}
	}
}

func TestNetworkFailureFallsBackToCache(t *testing.T) {
	h, c := setup(t)
	ctx := context.Background()
	want, err := c.ModelDir(ctx, "openai-community/gpt2", []string{"config.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	got, err := c.ModelDir(ctx, "openai-community/gpt2", []string{"config.json"}, []string{"tokenizer.json"})
	if err != nil || got != want {
		t.Fatalf("with the hub down: %s, %v; want the cached %s", got, err, want)
	}
	_, err = c.ModelDir(ctx, "openai-community/gpt2", []string{"config.json", "model.safetensors"}, nil)
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("uncached file with the hub down: %v", err)
	}
	// Only optional files (as embed asks first): the error names the
	// unreachable hub, not just the missing files.
	_, err = c.ModelDir(ctx, "org/never-fetched", nil, []string{"modules.json", "sentence_bert_config.json"})
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "modules.json") {
		t.Fatalf("only optional files with the hub down: %v", err)
	}
}

func TestResumeInterruptedDownload(t *testing.T) {
	h, c := setup(t)
	ctx := context.Background()
	h.cutAfter = 30000
	_, err := c.ModelDir(ctx, "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("interrupted download: err = %v", err)
	}
	inc := filepath.Join(c.RepoFolder("openai-community/gpt2"), "blobs", sha256hex(weights)+".incomplete")
	st, err := os.Stat(inc)
	if err != nil || st.Size() != 30000 {
		t.Fatalf("partial file %s: %v, %v bytes; want 30000", inc, err, st)
	}
	h.resetLog()
	dir, err := c.ModelDir(ctx, "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(h.requests(), "GET /cdn/"+sha256hex(weights)+" bytes=30000-") {
		t.Errorf("no Range request on resume: %v", h.requests())
	}
	got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(got, weights) {
		t.Errorf("resumed file differs (%d bytes)", len(got))
	}
	if _, err := os.Stat(inc); !os.IsNotExist(err) {
		t.Errorf("%s still exists", inc)
	}
}

func TestStalledDownload(t *testing.T) {
	h, c := setup(t)
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.3")
	h.stallAfter = 20000
	_, err := c.ModelDir(context.Background(), "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no data for 300ms") || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("stalled download: %v", err)
	}
	dir, err := c.ModelDir(context.Background(), "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(h.requests(), "GET /cdn/"+sha256hex(weights)+" bytes=20000-") {
		t.Errorf("no resume after the stall: %v", h.requests())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
		t.Error("content differs after a stalled and resumed download")
	}
}

func TestResumeWhenServerIgnoresRange(t *testing.T) {
	h, c := setup(t)
	ctx := context.Background()
	h.cutAfter = 1000
	if _, err := c.ModelDir(ctx, "openai-community/gpt2", []string{"model.safetensors"}, nil); err == nil {
		t.Fatal("want an interrupted download")
	}
	h.ignoreRange = true
	dir, err := c.ModelDir(ctx, "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
		t.Error("file differs after a full re-download")
	}
}

func TestChecksumMismatch(t *testing.T) {
	h, c := setup(t)
	h.corrupt = true
	_, err := c.ModelDir(context.Background(), "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), sha256hex(weights)) {
		t.Fatalf("err = %v, want a checksum mismatch naming the expected sha256", err)
	}
	blobs := filepath.Join(c.RepoFolder("openai-community/gpt2"), "blobs")
	left, _ := os.ReadDir(blobs)
	if len(left) != 0 {
		t.Errorf("blobs/ holds %d entries after a failed checksum, want none", len(left))
	}
	if _, err := os.Stat(filepath.Join(c.RepoFolder("openai-community/gpt2"), "snapshots", commitA, "model.safetensors")); !os.IsNotExist(err) {
		t.Error("a snapshot link was made to a corrupt download")
	}
	h.corrupt = false
	if _, err := c.ModelDir(context.Background(), "openai-community/gpt2", []string{"model.safetensors"}, nil); err != nil {
		t.Fatalf("retry after the fault: %v", err)
	}
}

func TestHubErrors(t *testing.T) {
	_, c := setup(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		ref   string
		req   []string
		token string
		is    error
		want  string
	}{
		{"unknown repo", "acme/nope", []string{"config.json"}, "", ErrNotFound, "repository acme/nope not found"},
		{"private no token", "acme/private", []string{"config.json"}, "", ErrNotFound, "set HF_TOKEN"},
		{"gated", "acme/gated", []string{"config.json"}, "", ErrUnauthorized, "gated"},
		{"bad revision", "gpt2@nope", []string{"config.json"}, "", ErrNotFound, `revision "nope" not found`},
		{"missing required", "gpt2", []string{"config.json", "pytorch_model.bin"}, "", ErrNotFound, "has no file pytorch_model.bin"},
		{"missing only optional, unknown repo", "acme/nope", nil, "", ErrNotFound, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := *c
			cc.Token = tc.token
			opt := []string(nil)
			if tc.req == nil {
				opt = []string{"nothing.txt"}
			}
			_, err := cc.ModelDir(ctx, tc.ref, tc.req, opt)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %v containing %q", err, tc.is, tc.want)
			}
		})
	}
	// With the token, the private and gated repos work.
	cc := *c
	cc.Token = "hf_secret"
	for _, ref := range []string{"acme/private", "acme/gated"} {
		if _, err := cc.ModelDir(ctx, ref, []string{"config.json"}, nil); err != nil {
			t.Errorf("%s with a token: %v", ref, err)
		}
	}
	// The token goes to the hub, not to the content server (the fake CDN
	// fails the test if it sees it).
	if _, err := cc.ModelDir(ctx, "acme/private", []string{"config.json", "model.safetensors"}, nil); err != nil {
		t.Errorf("private LFS file with a token: %v", err)
	}
	cc.Token = "hf_wrong"
	if _, err := cc.ModelDir(ctx, "acme/gated", []string{"config.json"}, nil); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestSnapshotMissing(t *testing.T) {
	_, c := setup(t)
	res, err := c.Snapshot(context.Background(), "gpt2", "main", []string{"config.json"}, []string{"vocab.txt", "tokenizer.json", "merges.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Files, []string{"config.json", "tokenizer.json"}) || !slices.Equal(res.Missing, []string{"vocab.txt", "merges.txt"}) || res.Commit != commitA {
		t.Errorf("Snapshot = %+v", res)
	}
}

func TestUnauthorizedStatus(t *testing.T) {
	srv := newFakeHub(t)
	srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	c := &Client{CacheDir: t.TempDir(), Endpoint: srv.srv.URL, HTTP: srv.srv.Client()}
	_, err := c.ModelDir(context.Background(), "a/b", []string{"config.json"}, nil)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}

func TestRevisions(t *testing.T) {
	h, c := setup(t)
	ctx := context.Background()
	dir, err := c.ModelDir(ctx, "openai-community/gpt2@v1", []string{"config.json"}, nil)
	if err != nil || filepath.Base(dir) != commitB {
		t.Fatalf("@v1: %s, %v", dir, err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.RepoFolder("openai-community/gpt2"), "refs", "v1")); string(b) != commitB {
		t.Errorf("refs/v1 = %q", b)
	}
	// A commit hash needs no ref, and once cached no request at all.
	dir, err = c.ModelDir(ctx, "openai-community/gpt2@"+commitA, []string{"config.json"}, nil)
	if err != nil || filepath.Base(dir) != commitA {
		t.Fatalf("@commit: %s, %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(c.RepoFolder("openai-community/gpt2"), "refs", commitA)); !os.IsNotExist(err) {
		t.Error("a ref was written for a commit hash")
	}
	h.resetLog()
	if _, err := c.ModelDir(ctx, "openai-community/gpt2@"+commitA, []string{"config.json"}, nil); err != nil {
		t.Fatal(err)
	}
	if len(h.requests()) != 0 {
		t.Errorf("cached commit made requests: %v", h.requests())
	}
}

func TestLocalDirectory(t *testing.T) {
	_, c := setup(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
	got, err := c.ModelDir(context.Background(), dir, []string{"config.json"}, []string{"tokenizer.json"})
	if err != nil || got != dir {
		t.Fatalf("local dir: %s, %v", got, err)
	}
	_, err = c.ModelDir(context.Background(), dir, []string{"config.json", "model.safetensors"}, nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("missing file in a local dir: %v", err)
	}
	// A file named like a hub id does not hide the hub id.
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "gpt2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModelDir(context.Background(), "gpt2", []string{"config.json"}, nil); err != nil {
		t.Errorf("a file named gpt2 in the working directory: %v", err)
	}
	for _, ref := range []string{"./no/such/dir", "/no/such/dir", filepath.Join(dir, "config.json")} {
		if _, err := c.ModelDir(context.Background(), ref, nil, nil); err == nil || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

func TestUnwritableCache(t *testing.T) {
	_, c := setup(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	c.CacheDir = filepath.Join(file, "cache") // a directory under a regular file
	_, err := c.ModelDir(context.Background(), "gpt2", []string{"config.json"}, nil)
	if err == nil || !strings.Contains(err.Error(), c.CacheDir) || !strings.Contains(err.Error(), "HF_HUB_CACHE") {
		t.Fatalf("err = %v, want one naming %s", err, c.CacheDir)
	}
}

func TestParseRef(t *testing.T) {
	cases := []struct {
		ref, repo, rev string
		ok             bool
	}{
		{"gpt2", "gpt2", "main", true},
		{"openai-community/gpt2", "openai-community/gpt2", "main", true},
		{"sentence-transformers/all-MiniLM-L6-v2@refs/pr/1", "sentence-transformers/all-MiniLM-L6-v2", "refs/pr/1", true},
		{"a/b@" + commitA, "a/b", commitA, true},
		{"a/b/c", "", "", false},
		{"a--b", "", "", false},
		{"a..b", "", "", false},
		{"-a/b", "", "", false},
		{"a/b.", "", "", false},
		{"a/b@", "", "", false},
		{"a/b@../x", "", "", false},
		{"", "", "", false},
		{"a b", "", "", false},
		{"a/" + strings.Repeat("x", 97), "", "", false},
	}
	for _, tc := range cases {
		repo, rev, err := ParseRef(tc.ref)
		if (err == nil) != tc.ok || repo != tc.repo || rev != tc.rev {
			t.Errorf("ParseRef(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.ref, repo, rev, err, tc.repo, tc.rev, tc.ok)
		}
	}
}

func TestFileNamesChecked(t *testing.T) {
	_, c := setup(t)
	for _, name := range []string{"../x", "a/../../x", "/etc/passwd", "", "a//b"} {
		if _, err := c.File(context.Background(), "gpt2", "main", name); err == nil || !strings.Contains(err.Error(), "invalid file name") {
			t.Errorf("File(%q): %v", name, err)
		}
	}
}

func TestNewClientEnv(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_HUB_OFFLINE", "yes")
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600)
	c := NewClient()
	if c.CacheDir != filepath.Join(home, "hub") || c.Endpoint != "https://mirror.example" || c.Token != "hf_fromfile" || !c.Offline {
		t.Errorf("NewClient() = %+v", c)
	}
	t.Setenv("HF_HUB_CACHE", filepath.Join(home, "elsewhere"))
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("HF_HUB_OFFLINE", "0")
	t.Setenv("TRANSFORMERS_OFFLINE", "")
	c = NewClient()
	if c.CacheDir != filepath.Join(home, "elsewhere") || c.Token != "hf_env" || c.Offline {
		t.Errorf("NewClient() = %+v", c)
	}
	t.Setenv("TRANSFORMERS_OFFLINE", "1")
	if NewClient().Offline {
		t.Error("HF_HUB_OFFLINE=0 should take precedence over TRANSFORMERS_OFFLINE=1")
	}
	t.Setenv("HF_HUB_OFFLINE", "")
	if !NewClient().Offline {
		t.Error("TRANSFORMERS_OFFLINE=1 is not offline")
	}
	t.Setenv("HF_HOME", "")
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "xdg"))
	if got := DefaultCacheDir(); got != filepath.Join(home, "xdg", "huggingface", "hub") {
		t.Errorf("DefaultCacheDir() with XDG_CACHE_HOME = %s", got)
	}
}

func TestNormalizeETag(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `W/"abc"`: "abc", "abc": "abc", ` "x" `: "x"} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"gpt2", "a/b@main", "a/b@refs/pr/1", "../x", "a--b", "a/b@" + commitA} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		repo, rev, err := ParseRef(ref)
		if err != nil {
			return
		}
		// Accepted ids stay inside the cache: one folder, no traversal.
		c := &Client{CacheDir: "/cache"}
		if filepath.Dir(c.RepoFolder(repo)) != "/cache" {
			t.Fatalf("%q escapes the cache: %s", ref, c.RepoFolder(repo))
		}
		ref2 := filepath.Join("/cache/x/refs", filepath.FromSlash(rev))
		if !strings.HasPrefix(ref2, "/cache/x/refs/") {
			t.Fatalf("revision %q escapes refs/: %s", rev, ref2)
		}
	})
}

// TestConcurrentDownloads fetches the same model from several goroutines at
// once: every caller gets the right bytes and the blob is downloaded once.
func TestConcurrentDownloads(t *testing.T) {
	h, c := setup(t)
	const n = 6
	errs := make(chan error, n)
	dirs := make(chan string, n)
	for range n {
		go func() {
			d, err := c.ModelDir(context.Background(), "openai-community/gpt2", []string{"config.json", "model.safetensors"}, []string{"tokenizer.json"})
			errs <- err
			dirs <- d
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		d := <-dirs
		if got, _ := os.ReadFile(filepath.Join(d, "model.safetensors")); !bytes.Equal(got, weights) {
			t.Fatal("a concurrent caller got different bytes")
		}
	}
	gets := 0
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "GET /cdn/") {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("the LFS blob was downloaded %d times, want 1", gets)
	}
}

// TestStaleIncomplete restarts a download whose partial file is longer than
// the file (left by something else).
func TestStaleIncomplete(t *testing.T) {
	_, c := setup(t)
	blobs := filepath.Join(c.RepoFolder("openai-community/gpt2"), "blobs")
	os.MkdirAll(blobs, 0o755)
	os.WriteFile(filepath.Join(blobs, sha256hex(weights)+".incomplete"), make([]byte, len(weights)+10), 0o644)
	dir, err := c.ModelDir(context.Background(), "openai-community/gpt2", []string{"model.safetensors"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
		t.Error("content differs after restarting a stale partial download")
	}
}

func TestDownloadRevisionConflict(t *testing.T) {
	c := &Client{CacheDir: t.TempDir(), Offline: true}
	_, err := c.Download(context.Background(), "acme/tiny@main", DownloadOptions{Revision: "v2"})
	if err == nil || !strings.Contains(err.Error(), "acme/tiny@main and revision v2 name different revisions") {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Download(context.Background(), "bad ref!", DownloadOptions{}); err == nil {
		t.Fatal("a malformed reference was accepted")
	}
}
