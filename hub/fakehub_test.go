package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRepo is one repository of the fake hub.
type fakeRepo struct {
	commit   string
	branches map[string]string // branch -> commit (besides "main")
	files    map[string][]byte
	lfs      map[string]bool // served through the "CDN" with a sha256 ETag
	private  bool            // needs the token
	gated    bool
}

// fakeHub imitates huggingface.co's resolve endpoint: relative redirects for
// renamed repositories, X-Repo-Commit / ETag / X-Linked-Etag / X-Linked-Size
// headers, absolute redirects of LFS files to a content server, Range
// requests, and X-Error-Code on errors.
type fakeHub struct {
	t       *testing.T
	srv     *httptest.Server
	token   string
	repos   map[string]*fakeRepo
	renamed map[string]string

	mu          sync.Mutex
	log         []string // "METHOD path [range]"
	cutAfter    int      // the next GET body stops after this many bytes (0: off)
	stallAfter  int      // the next GET body stalls after this many bytes (0: off)
	corrupt     bool     // flip a byte of LFS bodies
	ignoreRange bool
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t, repos: map[string]*fakeRepo{}, renamed: map[string]string{}, token: "hf_secret"}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func gitSHA1(b []byte) string {
	s := sha1.New()
	fmt.Fprintf(s, "blob %d\x00", len(b))
	s.Write(b)
	return hex.EncodeToString(s.Sum(nil))
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (h *fakeHub) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

func (h *fakeHub) resetLog() {
	h.mu.Lock()
	h.log = nil
	h.mu.Unlock()
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.log = append(h.log, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
	h.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/cdn/") {
		if r.Header.Get("Authorization") != "" {
			h.t.Errorf("the content server received the Authorization header")
			http.Error(w, "token leaked", http.StatusBadRequest)
			return
		}
		sha := strings.TrimPrefix(r.URL.Path, "/cdn/")
		for _, repo := range h.repos {
			for name, b := range repo.files {
				if repo.lfs[name] && sha256hex(b) == sha {
					h.body(w, r, b, true)
					return
				}
			}
		}
		http.NotFound(w, r)
		return
	}
	i := strings.Index(r.URL.Path, "/resolve/")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	repoID := strings.TrimPrefix(r.URL.Path[:i], "/")
	rest := r.URL.Path[i+len("/resolve/"):]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		http.NotFound(w, r)
		return
	}
	rev, name := rest[:j], rest[j+1:]
	if to, ok := h.renamed[repoID]; ok {
		w.Header().Set("Location", "/"+to+"/resolve/"+rev+"/"+name)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	repo, ok := h.repos[repoID]
	authorized := r.Header.Get("Authorization") == "Bearer "+h.token
	if !ok || (repo.private && !authorized) {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository Not Found")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if repo.gated && !authorized {
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.WriteHeader(http.StatusForbidden)
		return
	}
	commit := repo.branches[rev]
	if rev == "main" {
		commit = repo.commit
	}
	if rev == repo.commit || (commit == "" && containsValue(repo.branches, rev)) {
		commit = rev
	}
	if commit == "" {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	b, ok := repo.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if repo.lfs[name] {
		w.Header().Set("ETag", `"`+gitSHA1([]byte("pointer"))+`"`)
		w.Header().Set("X-Linked-Etag", `"`+sha256hex(b)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("Location", h.srv.URL+"/cdn/"+sha256hex(b))
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+gitSHA1(b)+`"`)
	h.body(w, r, b, false)
}

func containsValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// body serves b, honouring "Range: bytes=N-" and the fault switches.
func (h *fakeHub) body(w http.ResponseWriter, r *http.Request, b []byte, lfs bool) {
	h.mu.Lock()
	cut, stall, corrupt, ignoreRange := h.cutAfter, h.stallAfter, h.corrupt, h.ignoreRange
	if r.Method == http.MethodGet {
		h.cutAfter, h.stallAfter = 0, 0
	}
	h.mu.Unlock()
	if corrupt && lfs && len(b) > 0 {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xff
	}
	start := 0
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && !ignoreRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n < 0 {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if n >= len(b) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(b)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(b)-1, len(b)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)-start))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body := b[start:]
	if cut > 0 && cut < len(body) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	if stall > 0 && stall < len(body) {
		w.Write(body[:stall])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // until the client gives up
		return
	}
	w.Write(body)
}
