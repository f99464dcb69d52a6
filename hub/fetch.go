package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/internal/progress"
)

// kindError is an internal error kind that also matches a public sentinel.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

// kindf returns an error with the formatted message that matches kind (and
// what kind matches) under errors.Is, without appending kind's text.
func kindf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), parent: kind}
}

var (
	// errNoEntry: the repository exists but has no such file (an optional
	// file may be skipped). Matches ErrNotFound.
	errNoEntry = &kindError{"no such file", ErrNotFound}
	// errNetwork: the hub could not be reached; the cache may still help.
	errNetwork = &kindError{"network unreachable", nil}
)

// fileResult is where a file was found: its commit and snapshot path.
type fileResult struct {
	commit string
	path   string
}

// meta is what a HEAD request tells about a file.
type meta struct {
	commit   string
	etag     string
	size     int64  // -1 when unknown
	location string // where to GET the content
	external bool   // location came from an absolute redirect (a content server)
}

var etagRe = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,128}$`)

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (c *Client) pointerPath(repo, commit, name string) string {
	return filepath.Join(c.RepoFolder(repo), "snapshots", commit, filepath.FromSlash(name))
}

func (c *Client) noExistPath(repo, commit, name string) string {
	return filepath.Join(c.RepoFolder(repo), ".no_exist", commit, filepath.FromSlash(name))
}

// fileURL is {endpoint}/{repo}/resolve/{revision}/{file}, with the revision
// escaped as one path segment and the file name segment by segment.
func (c *Client) fileURL(repo, rev, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimRight(c.Endpoint, "/") + "/" + repo + "/resolve/" + url.PathEscape(rev) + "/" + strings.Join(segs, "/")
}

func (c *Client) setHeaders(req *http.Request, auth bool) {
	ua := c.UserAgent
	if ua == "" {
		ua = "loupe"
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept-Encoding", "identity")
	if auth && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

// fromCache finds a file in the cache without any request. The returned
// result carries the commit whenever the revision resolves, even on error.
// refName is the revision as the user gave it, for messages.
func (c *Client) fromCache(repo, refName, rev, name string) (*fileResult, error) {
	folder := c.RepoFolder(repo)
	commit := rev
	if !commitHash.MatchString(rev) {
		b, err := os.ReadFile(filepath.Join(folder, "refs", filepath.FromSlash(rev)))
		if err != nil {
			return nil, kindf(ErrOffline, "hub: %s@%s is not in the cache (no %s)%s",
				repo, rev, filepath.Join(folder, "refs", filepath.FromSlash(rev)), c.offlineHint(repo, rev))
		}
		commit = strings.TrimSpace(string(b))
		if !commitHash.MatchString(commit) {
			return nil, fmt.Errorf("hub: %s: %q is not a commit hash", filepath.Join(folder, "refs", rev), commit)
		}
	}
	r := &fileResult{commit: commit}
	if p := c.pointerPath(repo, commit, name); exists(p) {
		r.path = p
		return r, nil
	}
	if exists(c.noExistPath(repo, commit, name)) {
		return r, kindf(errNoEntry, "hub: %s@%s has no file %s (recorded in the cache)", repo, refName, name)
	}
	return r, kindf(ErrOffline, "hub: %s@%s: %s is not in the cache %s%s",
		repo, refName, name, filepath.Join(folder, "snapshots", commit), c.offlineHint(repo, refName))
}

func (c *Client) offlineHint(repo, rev string) string {
	if !c.Offline {
		return ""
	}
	ref := repo
	if rev != DefaultRevision {
		ref += "@" + rev
	}
	return fmt.Sprintf("; offline mode is on (HF_HUB_OFFLINE), so fetch it first with `loupe download --model %s`", ref)
}

// fetch makes one file available, asking the hub. refName is the revision the
// user asked for; rev is what to request (the same, or the commit it
// resolved to).
func (c *Client) fetch(ctx context.Context, repo, refName, rev, name string) (*fileResult, error) {
	if commitHash.MatchString(rev) {
		// A commit never changes: what the cache has is final.
		if p := c.pointerPath(repo, rev, name); exists(p) {
			return &fileResult{commit: rev, path: p}, nil
		}
		if exists(c.noExistPath(repo, rev, name)) {
			return &fileResult{commit: rev}, kindf(errNoEntry, "hub: %s@%s has no file %s", repo, refName, name)
		}
	}
	m, err := c.head(ctx, repo, refName, rev, name)
	if err != nil {
		if errors.Is(err, errNoEntry) && m != nil && commitHash.MatchString(m.commit) {
			// Record the absence, as huggingface_hub does, so that later and
			// offline runs need not ask again.
			c.markNoExist(repo, m.commit, name)
			if rev != m.commit {
				c.writeRef(repo, rev, m.commit)
			}
			return &fileResult{commit: m.commit}, err
		}
		return nil, err
	}
	folder := c.RepoFolder(repo)
	if err := mkdirCache(filepath.Join(folder, "blobs")); err != nil {
		return nil, err
	}
	if rev != m.commit {
		if err := c.writeRef(repo, rev, m.commit); err != nil {
			return nil, err
		}
	}
	pointer := c.pointerPath(repo, m.commit, name)
	if exists(pointer) {
		return &fileResult{commit: m.commit, path: pointer}, nil
	}
	blob := filepath.Join(folder, "blobs", m.etag)
	if !exists(blob) {
		if err := c.download(ctx, repo, name, m, blob); err != nil {
			return nil, err
		}
	}
	if err := link(blob, pointer); err != nil {
		return nil, err
	}
	return &fileResult{commit: m.commit, path: pointer}, nil
}

// mkdirCache creates a cache directory, with an error that names it.
func mkdirCache(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hub: cannot create cache directory %s (set HF_HUB_CACHE or HF_HOME to a writable place): %w", dir, err)
	}
	return nil
}

func (c *Client) writeRef(repo, rev, commit string) error {
	p := filepath.Join(c.RepoFolder(repo), "refs", filepath.FromSlash(rev))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil // unchanged: works in a read-only cache too
	}
	if err := mkdirCache(filepath.Dir(p)); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, []byte(commit)); err != nil {
		return fmt.Errorf("hub: cannot write to the cache (set HF_HUB_CACHE or HF_HOME to a writable place): %w", err)
	}
	return nil
}

func (c *Client) markNoExist(repo, commit, name string) {
	p := c.noExistPath(repo, commit, name)
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
}

// etagTimeout is how long a HEAD request may take: $HF_HUB_ETAG_TIMEOUT
// seconds, 10 by default, as in huggingface_hub.
func etagTimeout() time.Duration {
	if s, err := strconv.ParseFloat(os.Getenv("HF_HUB_ETAG_TIMEOUT"), 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	return 10 * time.Second
}

// downloadTimeout is how long a download may go without receiving data:
// $HF_HUB_DOWNLOAD_TIMEOUT seconds, 10 by default, as in huggingface_hub.
func downloadTimeout() time.Duration {
	if s, err := strconv.ParseFloat(os.Getenv("HF_HUB_DOWNLOAD_TIMEOUT"), 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	return 10 * time.Second
}

// idleReader resets timer after every read that returns data.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	return n, err
}

// head asks the hub about a file. It follows relative redirects only (a
// renamed repository); an absolute redirect is where the content lives.
func (c *Client) head(ctx context.Context, repo, refName, rev, name string) (*meta, error) {
	ctx, cancel := context.WithTimeout(ctx, etagTimeout())
	defer cancel()
	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := c.fileURL(repo, rev, name)
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return nil, fmt.Errorf("hub: bad URL %s: %w", u, err)
		}
		c.setHeaders(req, true)
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, kindf(errNetwork, "hub: cannot reach %s (%v)", c.Endpoint, err)
		}
		resp.Body.Close()
		m := &meta{
			commit:   resp.Header.Get("X-Repo-Commit"),
			etag:     normalizeETag(firstHeader(resp.Header, "X-Linked-Etag", "ETag")),
			size:     -1,
			location: u,
		}
		if s, err := strconv.ParseInt(firstHeader(resp.Header, "X-Linked-Size", "Content-Length"), 10, 64); err == nil && s >= 0 {
			m.size = s
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc := resp.Header.Get("Location")
			target, err := url.Parse(loc)
			if loc == "" || err != nil {
				return nil, fmt.Errorf("hub: HEAD %s: HTTP %d with bad Location %q", u, resp.StatusCode, loc)
			}
			if target.Host == "" {
				if hops >= 10 {
					return nil, fmt.Errorf("hub: HEAD %s: too many redirects", u)
				}
				base, _ := url.Parse(u)
				u = base.ResolveReference(target).String()
				continue
			}
			m.location = target.String() // content server (CDN)
			m.external = true
		} else if resp.StatusCode >= 400 {
			return m, c.statusError(resp, repo, refName, name)
		}
		if !commitHash.MatchString(m.commit) {
			return nil, fmt.Errorf("hub: %s does not look like a Hugging Face hub: no commit hash (X-Repo-Commit) for %s", c.Endpoint, u)
		}
		if !etagRe.MatchString(m.etag) || m.etag == "." || m.etag == ".." {
			return nil, fmt.Errorf("hub: %s: missing or unusable ETag %q for %s", c.Endpoint, m.etag, u)
		}
		return m, nil
	}
}

func firstHeader(h http.Header, keys ...string) string {
	for _, k := range keys {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// normalizeETag strips a weak-validator prefix and the quotes.
func normalizeETag(e string) string {
	e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
	return strings.Trim(e, `"`)
}

// statusError turns a failed response into an error naming what was asked,
// using the hub's X-Error-Code header where present.
func (c *Client) statusError(resp *http.Response, repo, rev, name string) error {
	code := resp.Header.Get("X-Error-Code")
	detail := resp.Header.Get("X-Error-Message")
	if detail != "" {
		detail = " (" + detail + ")"
	}
	status := resp.StatusCode
	tokenHint := "set HF_TOKEN to a token with access"
	if c.Token != "" {
		tokenHint = "the token given (HF_TOKEN) was refused or has no access"
	}
	switch {
	case code == "RepoNotFound":
		return kindf(ErrNotFound, "hub: repository %s not found on %s; if it is private or gated, %s%s", repo, c.Endpoint, tokenHint, detail)
	case code == "RevisionNotFound":
		return kindf(ErrNotFound, "hub: revision %q not found in %s%s", rev, repo, detail)
	case code == "EntryNotFound" || (status == http.StatusNotFound && code == ""):
		return kindf(errNoEntry, "hub: %s@%s has no file %s%s", repo, rev, name, detail)
	case code == "GatedRepo":
		return kindf(ErrUnauthorized, "hub: %s is a gated repository: accept its terms on %s/%s and %s%s", repo, c.Endpoint, repo, tokenHint, detail)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return kindf(ErrUnauthorized, "hub: access to %s denied (HTTP %d): %s%s", repo, status, tokenHint, detail)
	case status == http.StatusNotFound:
		return kindf(ErrNotFound, "hub: %s@%s: %s not found (%s)%s", repo, rev, name, code, detail)
	}
	return fmt.Errorf("hub: %s %s: HTTP %d %s%s", resp.Request.Method, resp.Request.URL, status, http.StatusText(status), detail)
}

// download fetches m into blob via blob.incomplete, resuming a previous
// partial download, verifying the sha256 when the ETag is one, and renaming
// into place only when complete.
func (c *Client) download(ctx context.Context, repo, name string, m *meta, blob string) error {
	lockDir := filepath.Join(c.CacheDir, ".locks", filepath.Base(c.RepoFolder(repo)))
	if err := mkdirCache(lockDir); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(lockDir, m.etag+".lock"))
	if err != nil {
		return fmt.Errorf("hub: lock %s: %w", lockDir, err)
	}
	defer unlock()
	if exists(blob) {
		return nil // another process finished it while we waited
	}
	inc := blob + ".incomplete"
	f, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hub: cannot write to the cache (set HF_HUB_CACHE or HF_HOME to a writable place): %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("hub: %s: %w", inc, err)
	}
	off := st.Size()
	if m.size >= 0 && off > m.size {
		off = 0 // not a prefix of this file
	}
	var h hash.Hash
	if sha256Hex.MatchString(m.etag) {
		h = sha256.New()
	}
	for attempt := 0; ; attempt++ {
		if err := f.Truncate(off); err != nil {
			return fmt.Errorf("hub: %s: %w", inc, err)
		}
		if h != nil {
			h.Reset()
			if _, err := io.Copy(h, io.NewSectionReader(f, 0, off)); err != nil {
				return fmt.Errorf("hub: reading %s: %w", inc, err)
			}
		}
		if m.size >= 0 && off == m.size {
			break // complete already (the last run stopped before renaming)
		}
		restart, err := c.get(ctx, repo, name, m, f, off, h)
		if err != nil {
			return err
		}
		if restart && attempt == 0 {
			off = 0
			continue
		}
		break
	}
	st, err = f.Stat()
	if err != nil {
		return fmt.Errorf("hub: %s: %w", inc, err)
	}
	if m.size >= 0 && st.Size() != m.size {
		f.Close()
		os.Remove(inc)
		return fmt.Errorf("hub: download of %s from %s: got %d bytes, want %d", name, repo, st.Size(), m.size)
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != m.etag {
			f.Close()
			os.Remove(inc)
			return fmt.Errorf("hub: checksum mismatch for %s from %s: sha256 %s, want %s (the partial file was removed; run again)", name, repo, sum, m.etag)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hub: %s: %w", inc, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hub: %s: %w", inc, err)
	}
	if err := os.Rename(inc, blob); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// get requests the file from byte off on and appends it to f (positioned by
// the caller's truncation). It reports restart when the server could not
// resume and the download must start again from 0.
func (c *Client) get(ctx context.Context, repo, name string, m *meta, f *os.File, off int64, h hash.Hash) (restart bool, err error) {
	// A stalled transfer is abandoned after the idle timeout (and resumed by
	// the next run); a slow but moving one is not.
	idle := downloadTimeout()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	timer := time.AfterFunc(idle, func() { stalled.Store(true); cancel() })
	defer timer.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.location, nil)
	if err != nil {
		return false, fmt.Errorf("hub: bad URL %s: %w", m.location, err)
	}
	// Like huggingface_hub, send the token only to the hub itself, never to
	// the content server an absolute redirect pointed at.
	c.setHeaders(req, !m.external)
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := c.httpClient().Do(req)
	if err != nil && stalled.Load() {
		err = fmt.Errorf("no response for %v (HF_HUB_DOWNLOAD_TIMEOUT)", idle)
	}
	if err != nil {
		return false, fmt.Errorf("hub: download of %s from %s failed: %v (run again to resume, or set HF_HUB_OFFLINE=1 to use only the cache)", name, repo, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", off)) {
			return true, nil
		}
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			// The server ignored the range: take the whole file.
			if err := f.Truncate(0); err != nil {
				return false, err
			}
			off = 0
			if h != nil {
				h.Reset()
			}
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return true, nil
	default:
		return false, c.statusError(resp, repo, m.commit, name)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false, err
	}
	var bar *progress.Bar
	if c.ShowProgress {
		total := m.size
		if total < 0 {
			total = -1
		}
		bar = progress.New(total, name, true)
		bar.Set(off)
	}
	w := io.Writer(f)
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	body := &idleReader{r: resp.Body, timer: timer, idle: idle}
	n, err := io.Copy(io.MultiWriter(w, bar.Writer()), body)
	if err != nil && stalled.Load() {
		err = fmt.Errorf("no data for %v (HF_HUB_DOWNLOAD_TIMEOUT)", idle)
	}
	bar.Finish()
	if err != nil {
		f.Sync()
		return false, fmt.Errorf("hub: download of %s from %s interrupted after %d bytes: %v (run again to resume)", name, repo, off+n, err)
	}
	return false, nil
}

// link points pointer at blob with a relative symlink, as huggingface_hub
// does (e.g. ../../blobs/<etag>), or copies the blob where symlinks are not
// supported.
func link(blob, pointer string) error {
	if err := mkdirCache(filepath.Dir(pointer)); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		rel = blob
	}
	if cur, err := os.Readlink(pointer); err == nil && cur == rel {
		return nil // already in place (another caller may be reading it)
	}
	// Make the link under a temporary name and rename it over the pointer,
	// so a concurrent reader never finds the pointer missing.
	tmp := fmt.Sprintf("%s.tmp-%d-%x", pointer, os.Getpid(), rand.Uint64())
	if err := os.Symlink(rel, tmp); err == nil {
		if err := os.Rename(tmp, pointer); err == nil {
			return nil
		}
		os.Remove(tmp)
	}
	if exists(pointer) {
		return nil
	}
	in, err := os.Open(blob)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer in.Close()
	if err := atomicfile.Write(pointer, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}
