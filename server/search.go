package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/shard"
)

// SearchRequest is the body of POST /api/search on a shard server: one
// question ("query") or several ("queries"), and loupe search's options
// under their flag names.
type SearchRequest struct {
	Query      string   `json:"query"`
	Queries    []string `json:"queries"`
	K          int      `json:"k"`
	Mode       string   `json:"mode"`
	Filter     []string `json:"filter"`
	Ef         int      `json:"ef"`
	K1         *float64 `json:"k1"`
	B          *float64 `json:"b"`
	Fusion     string   `json:"fusion"`
	Alpha      *float64 `json:"alpha"`
	RRFK       int      `json:"rrf_k"`
	Candidates int      `json:"candidates"`
	// RequireAll turns a partial answer into a 503 error naming the
	// missing shards.
	RequireAll bool `json:"require_all"`
}

// SearchResponse is its answer: the hits of each question, merged over
// the shards, and the shards missing from them (never left out silently:
// "partial" is true and "missing" names them).
type SearchResponse struct {
	Queries []string        `json:"queries"`
	Mode    search.Mode     `json:"mode"`
	Results [][]search.Hit  `json:"results"`
	Shards  int             `json:"shards"`
	Partial bool            `json:"partial"`
	Missing []shard.Missing `json:"missing"`
	Applied []uint64        `json:"applied"`
	Embed   float64         `json:"embed_seconds"`
	Search  float64         `json:"search_seconds"`
}

// NewSearch returns a server for the sharded collection c:
//
//	POST /api/search     SearchRequest → SearchResponse (scatter-gather)
//	POST /api/documents  {"documents": [{"text", "id", other fields…}]} → shard.Published
//	POST /api/delete     {"ids": [3, 17]} → shard.Published
//	GET  /healthz
//
// with Options' body limit, concurrency limit and Host and Origin checks.
func NewSearch(c *shard.Client, opt Options) *Server {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 10
	}
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = 64
	}
	s := &Server{opt: opt, sem: make(chan struct{}, opt.MaxConcurrent), mux: http.NewServeMux()}
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "shards": c.Info().Shards, "model": c.Info().Model})
	})
	s.mux.HandleFunc("/api/search", s.post(func(ctx context.Context, body []byte) (any, error) { return searchShards(ctx, c, body) }))
	s.mux.HandleFunc("/api/documents", s.post(func(ctx context.Context, body []byte) (any, error) { return addDocuments(ctx, c, body) }))
	s.mux.HandleFunc("/api/delete", s.post(func(ctx context.Context, body []byte) (any, error) {
		var req struct {
			IDs []uint64 `json:"ids"`
		}
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		if len(req.IDs) == 0 {
			return nil, badRequest(`"ids" is empty`)
		}
		return c.Delete(ctx, req.IDs)
	}))
	return s
}

// ListenAndServeSearch listens on opt.Addr and serves NewSearch(c, opt)
// until ctx is done, calling ready with its URL first.
func ListenAndServeSearch(ctx context.Context, c *shard.Client, opt Options, ready func(url string)) error {
	ln, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer ln.Close()
	opt.Addr = ln.Addr().String()
	s := NewSearch(c, opt)
	if ready != nil {
		ready("http://" + opt.Addr + "/")
	}
	return s.Serve(ctx, ln)
}

func searchShards(ctx context.Context, c *shard.Client, body []byte) (any, error) {
	var req SearchRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	qs := req.Queries
	if req.Query != "" {
		qs = append([]string{req.Query}, qs...)
	}
	if len(qs) == 0 {
		return nil, badRequest(`give "query" or "queries"`)
	}
	if req.K == 0 {
		req.K = search.DefaultK
	}
	opts := search.SearchOptions{K: req.K, Ef: req.Ef, Mode: search.Mode(req.Mode), K1: req.K1, B: req.B,
		Fusion: search.Fusion(req.Fusion), Alpha: req.Alpha, RRFK: req.RRFK, Candidates: req.Candidates}
	var err error
	if opts.Filter, err = search.ParseConditions(req.Filter); err != nil {
		return nil, badRequest("%v", err)
	}
	if err := opts.Validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	res, err := c.Search(ctx, qs, opts)
	if err != nil {
		return nil, err
	}
	if req.RequireAll {
		if err := res.Err(); err != nil {
			return nil, &httpError{http.StatusServiceUnavailable, err.Error()}
		}
	}
	missing := res.Missing
	if missing == nil {
		missing = []shard.Missing{}
	}
	return SearchResponse{Queries: qs, Mode: res.Mode, Results: res.Hits, Shards: res.Shards, Partial: !res.Complete(),
		Missing: missing, Applied: res.Applied, Embed: res.EmbedSeconds, Search: res.SearchSeconds}, nil
}

func addDocuments(ctx context.Context, c *shard.Client, body []byte) (any, error) {
	var req struct {
		Documents []json.RawMessage `json:"documents"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if len(req.Documents) == 0 {
		return nil, badRequest(`"documents" is empty`)
	}
	// The documents are read as loupe index add --input reads JSON lines.
	var lines bytes.Buffer
	for _, d := range req.Documents {
		var compact bytes.Buffer
		if err := json.Compact(&compact, d); err != nil {
			return nil, badRequest("documents: %v", err)
		}
		lines.Write(compact.Bytes())
		lines.WriteByte('\n')
	}
	docs, err := embed.ReadRecords(&lines, "documents", embed.ReadOptions{})
	if err != nil {
		return nil, badRequest("%v", err)
	}
	pub, err := c.Add(ctx, docs)
	if err != nil && errors.Is(err, search.ErrNoDocuments) {
		return nil, badRequest("%v", err)
	}
	return pub, err
}
