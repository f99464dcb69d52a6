package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face hub used when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the revision used when a reference names none.
const DefaultRevision = "main"

// Errors for errors.Is. Every error the package returns wraps at most one of
// them and names the repository, the file and where it looked.
var (
	// ErrNotFound: the repository, revision or file does not exist (or, for
	// a repository, is private and no valid token was given).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the hub refused the request (401/403): a private or
	// gated repository, or a missing or invalid HF_TOKEN.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrOffline: a file is not in the cache and the hub cannot be asked,
	// because offline mode is on (HF_HUB_OFFLINE) or the network failed.
	ErrOffline = errors.New("not available offline")
)

// Client fetches model files from a Hugging Face hub into a local cache. The
// zero value is not useful; start from NewClient and change fields as needed.
type Client struct {
	// CacheDir is the hub cache directory (the folder holding models--*).
	CacheDir string
	// Endpoint is the hub's base URL, without a trailing slash.
	Endpoint string
	// Token, when not empty, is sent as "Authorization: Bearer <Token>".
	Token string
	// Offline forbids all network access: files come from the cache only.
	Offline bool
	// HTTP is the client used for requests; nil means a default client with
	// connect and response-header timeouts.
	HTTP *http.Client
	// ShowProgress shows a progress bar on standard error for downloads when
	// it is a terminal.
	ShowProgress bool
	// UserAgent is sent with every request; empty means "loupe".
	UserAgent string
}

// NewClient returns a Client configured from the environment as
// huggingface_hub configures itself: HF_HUB_CACHE, HF_HOME (and
// XDG_CACHE_HOME) for the cache, HF_ENDPOINT, HF_HUB_OFFLINE (or
// TRANSFORMERS_OFFLINE), and HF_TOKEN
// (else the token file at HF_TOKEN_PATH or $HF_HOME/token). Progress bars are
// on unless HF_HUB_DISABLE_PROGRESS_BARS is set.
func NewClient() *Client {
	return &Client{
		CacheDir:     DefaultCacheDir(),
		Endpoint:     endpointFromEnv(),
		Token:        tokenFromEnv(),
		Offline:      offlineFromEnv(),
		ShowProgress: !envTrue("HF_HUB_DISABLE_PROGRESS_BARS"),
	}
}

// expandHome replaces a leading "~" with the home directory.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// HFHome returns $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
func HFHome() string {
	if h := os.Getenv("HF_HOME"); h != "" {
		return expandHome(h)
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(expandHome(base), "huggingface")
}

// DefaultCacheDir returns the hub cache directory from the environment:
// $HF_HUB_CACHE (or the older $HUGGINGFACE_HUB_CACHE), else HFHome()/hub.
func DefaultCacheDir() string {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(k); d != "" {
			return expandHome(d)
		}
	}
	return filepath.Join(HFHome(), "hub")
}

func endpointFromEnv() string {
	if e := os.Getenv("HF_ENDPOINT"); e != "" {
		return strings.TrimRight(e, "/")
	}
	return DefaultEndpoint
}

func tokenFromEnv() string {
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(k)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(HFHome(), "token")
	}
	if b, err := os.ReadFile(expandHome(path)); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// offlineFromEnv reads HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE when it is
// unset, as huggingface_hub does.
func offlineFromEnv() bool {
	if os.Getenv("HF_HUB_OFFLINE") != "" {
		return envTrue("HF_HUB_OFFLINE")
	}
	return envTrue("TRANSFORMERS_OFFLINE")
}

// envTrue reports whether the environment variable is set to a true value
// ("1", "ON", "YES" or "TRUE", any case), as huggingface_hub reads flags.
func envTrue(k string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(k))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

var (
	repoPart   = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,96}$`)
	commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParseRef splits a hub reference "NAME", "ORG/NAME" or "...@REVISION" into
// the repository id and revision ("main" when none is given), checking both.
func ParseRef(ref string) (repo, revision string, err error) {
	repo, revision = ref, DefaultRevision
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		repo, revision = ref[:i], ref[i+1:]
		if revision == "" {
			return "", "", fmt.Errorf("hub: %q: empty revision after '@'", ref)
		}
	}
	if err := checkRepoID(repo); err != nil {
		return "", "", err
	}
	if err := checkRevision(revision); err != nil {
		return "", "", err
	}
	return repo, revision, nil
}

// checkRepoID validates a repository id the way huggingface_hub does: one or
// two parts of letters, digits, '-', '_' and '.', no "--" or "..", not
// starting or ending with '-' or '.'.
func checkRepoID(repo string) error {
	parts := strings.Split(repo, "/")
	bad := len(parts) > 2 || strings.Contains(repo, "--") || strings.Contains(repo, "..") || strings.HasSuffix(repo, ".git")
	for _, p := range parts {
		if !repoPart.MatchString(p) || strings.HasPrefix(p, "-") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, "-") || strings.HasSuffix(p, ".") {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("hub: %q is not a valid model id (want NAME or ORG/NAME of letters, digits, '-', '_' and '.') nor an existing directory", repo)
	}
	return nil
}

func checkRevision(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "/") || strings.HasSuffix(rev, "/") || strings.Contains(rev, "\\") || strings.ContainsAny(rev, "\x00\n\r") {
		return fmt.Errorf("hub: invalid revision %q", rev)
	}
	for _, p := range strings.Split(rev, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("hub: invalid revision %q", rev)
		}
	}
	return nil
}

// checkFilename rejects file names that could escape the snapshot folder.
func checkFilename(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsAny(name, "\x00\n\r") {
		return fmt.Errorf("hub: invalid file name %q", name)
	}
	for _, p := range strings.Split(name, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("hub: invalid file name %q", name)
		}
	}
	return nil
}

// RepoFolder returns the cache folder of a model repository:
// CacheDir/models--ORG--NAME.
func (c *Client) RepoFolder(repo string) string {
	return filepath.Join(c.CacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

var defaultHTTP = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	},
}

// ModelDir returns a local directory holding the model files. If ref is an
// existing directory it is returned as is, after checking that the required
// files are in it. Otherwise ref is a hub id ("NAME", "ORG/NAME", with an
// optional "@REVISION"): the required files are taken from the cache or
// downloaded, and it is an error if one is missing; optional files likewise,
// but they are skipped silently when the repository has none. The returned
// directory is the snapshot folder of the resolved commit. A ref registered
// with RegisterBuiltin (and not an existing directory) is the built-in
// model's directory.
func (c *Client) ModelDir(ctx context.Context, ref string, required, optional []string) (string, error) {
	st, err := os.Stat(ref)
	if dir, ok := builtin(ref); ok && !(err == nil && st.IsDir()) {
		d, derr := dir()
		if derr != nil {
			return "", fmt.Errorf("hub: built-in model %s: %w", ref, derr)
		}
		ref = d
		st, err = os.Stat(ref)
	}
	if err == nil && st.IsDir() {
		var missing []string
		for _, f := range required {
			if _, err := os.Stat(filepath.Join(ref, filepath.FromSlash(f))); err != nil && !(isWeights(f) && localWeights(ref, f)) {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			return "", kindf(ErrNotFound, "hub: directory %s has no %s", ref, strings.Join(missing, ", "))
		}
		return ref, nil
	} else if looksLikePath(ref) {
		return "", kindf(ErrNotFound, "hub: %s is not a directory (want a model directory or a hub id like ORG/NAME)", ref)
	}
	repo, rev, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	res, err := c.Snapshot(ctx, repo, rev, required, optional)
	if err != nil {
		return "", err
	}
	return res.Dir, nil
}

// looksLikePath reports whether ref is evidently meant as a file system path.
func looksLikePath(ref string) bool {
	return strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "~") ||
		strings.Count(ref, "/") > 1 || strings.ContainsRune(ref, filepath.Separator) && filepath.Separator != '/'
}

// SnapshotResult describes the files Snapshot made available.
type SnapshotResult struct {
	Repo     string   `json:"repo"`
	Revision string   `json:"revision"`
	Commit   string   `json:"commit"`
	Dir      string   `json:"dir"`   // CacheDir/models--ORG--NAME/snapshots/<commit>
	Files    []string `json:"files"` // the files present, in request order
	Missing  []string `json:"missing,omitempty"`
}

// Snapshot makes files of repo at revision available in one snapshot folder
// of the cache. A required file that cannot be had is an error; an optional
// one that the repository does not have is listed in Missing. The first
// file resolves the revision to a commit; the others are fetched at that
// commit, so the snapshot is consistent.
func (c *Client) Snapshot(ctx context.Context, repo, revision string, required, optional []string) (*SnapshotResult, error) {
	if err := checkRepoID(repo); err != nil {
		return nil, err
	}
	if revision == "" {
		revision = DefaultRevision
	}
	if err := checkRevision(revision); err != nil {
		return nil, err
	}
	res := &SnapshotResult{Repo: repo, Revision: revision}
	type want struct {
		name     string
		required bool
	}
	var files []want
	seen := map[string]bool{}
	for _, f := range required {
		if !seen[f] {
			files = append(files, want{f, true})
			seen[f] = true
		}
	}
	for _, f := range optional {
		if !seen[f] {
			files = append(files, want{f, false})
			seen[f] = true
		}
	}
	for _, f := range files {
		if err := checkFilename(f.name); err != nil {
			return nil, err
		}
	}
	rev := revision
	var netErr error // set once the hub proved unreachable
	// get makes one file available: from the hub, or from the cache when
	// offline or once the hub proved unreachable.
	get := func(name string) (*fileResult, error) {
		var r *fileResult
		var err error
		if !c.Offline && netErr == nil {
			r, err = c.fetch(ctx, repo, revision, rev, name)
			if errors.Is(err, errNetwork) {
				// The hub is unreachable: use what the cache has, as
				// huggingface_hub does, and stop asking.
				netErr = err
			}
		}
		if c.Offline || netErr != nil {
			r, err = c.fromCache(repo, revision, rev, name)
			if netErr != nil && errors.Is(err, ErrOffline) {
				err = kindf(ErrOffline, "%v, and %s@%s: %s is not in the cache %s; check the connection, or set HF_HUB_OFFLINE=1 to use only the cache",
					netErr, repo, revision, name, c.RepoFolder(repo))
			}
		}
		if r != nil && res.Commit == "" {
			res.Commit = r.commit
			rev = r.commit // fetch the rest at the same commit
		}
		return r, err
	}
	for _, f := range files {
		_, err := get(f.name)
		if err != nil && isWeights(f.name) && absent(err) {
			// No model.safetensors: take the weights in the next form the
			// repository has them (shards, pytorch_model.bin, its shards).
			got, ferr := c.weightsFallback(get, repo, revision, f.name)
			if ferr != nil {
				return nil, ferr
			}
			if got != nil {
				res.Files = append(res.Files, got...)
				continue
			}
			if errors.Is(err, errNoEntry) {
				prefix := strings.TrimSuffix(f.name, Weights)
				err = kindf(errNoEntry, "%v, nor %s%s, %s%s or %s%s", err, prefix, weightsFallbacks[0], prefix, weightsFallbacks[1], prefix, weightsFallbacks[2])
			}
		}
		if err != nil {
			if !f.required && absent(err) {
				res.Missing = append(res.Missing, f.name)
				continue
			}
			return nil, err
		}
		res.Files = append(res.Files, f.name)
	}
	if res.Commit == "" {
		if netErr != nil {
			// Nothing came from the hub or the cache because the hub is
			// unreachable: say so, as a required file's error does.
			return nil, kindf(ErrOffline, "%v, and %s@%s: none of the files %v is in the cache %s; check the connection, or set HF_HUB_OFFLINE=1 to use only the cache",
				netErr, repo, revision, res.Missing, c.RepoFolder(repo))
		}
		return nil, kindf(ErrNotFound, "hub: %s@%s: none of the files %v is available", repo, revision, res.Missing)
	}
	res.Dir = filepath.Join(c.RepoFolder(repo), "snapshots", res.Commit)
	return res, nil
}

// File makes one file of repo at revision available in the cache and returns
// its path (inside the snapshot folder).
func (c *Client) File(ctx context.Context, repo, revision, name string) (string, error) {
	res, err := c.Snapshot(ctx, repo, revision, []string{name}, nil)
	if err != nil {
		return "", err
	}
	return filepath.Join(res.Dir, filepath.FromSlash(name)), nil
}
