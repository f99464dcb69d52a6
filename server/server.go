package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/web"
)

// Options sets the server's limits. Zero values take the defaults shown.
type Options struct {
	MaxBodyBytes    int64 // 64 KiB
	MaxPromptTokens int   // 256 (and never more than the model's context)
	MaxNewTokens    int   // 64
	MaxIGSteps      int   // 64
	MaxNMF          int   // 32 components
	MaxConcurrent   int   // 2 explanations or generations at once
	Logger          *log.Logger
}

// Server serves one Explainer.
type Server struct {
	e    *explain.Explainer
	opt  Options
	sem  chan struct{}
	mux  *http.ServeMux
	page []byte
}

// New returns a Server for e with the given limits.
func New(e *explain.Explainer, opt Options) *Server {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 10
	}
	if opt.MaxPromptTokens <= 0 {
		opt.MaxPromptTokens = 256
	}
	if opt.MaxNewTokens <= 0 {
		opt.MaxNewTokens = 64
	}
	if opt.MaxIGSteps <= 0 {
		opt.MaxIGSteps = 64
	}
	if opt.MaxNMF <= 0 {
		opt.MaxNMF = 32
	}
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = 2
	}
	s := &Server{e: e, opt: opt, sem: make(chan struct{}, opt.MaxConcurrent), mux: http.NewServeMux(), page: web.ServerPage(e.Name)}
	s.mux.HandleFunc("/", s.index)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "model": e.Name})
	})
	s.mux.HandleFunc("/api/generate", s.post(s.generate))
	s.mux.HandleFunc("/api/explain", s.post(s.explain))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "no such page: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", web.ServerCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(s.page)
}

// httpError is an error with the status to answer it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// post wraps a JSON API handler: method, content type, body limit, decoding
// with unknown fields rejected, concurrency limit, and error mapping.
func (s *Server) post(h func(ctx context.Context, body []byte) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "use POST with a JSON body")
			return
		}
		// The body must be JSON; curl's default form type is tolerated so that
		// `curl -d '{...}'` works, but multipart uploads are refused.
		if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
			writeError(w, http.StatusUnsupportedMediaType, "the body must be JSON, not "+ct)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes))
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.opt.MaxBodyBytes))
				return
			}
			writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
			return
		}
		select {
		case s.sem <- struct{}{}:
		case <-r.Context().Done():
			writeError(w, http.StatusServiceUnavailable, "request cancelled while waiting for a free worker")
			return
		}
		defer func() { <-s.sem }()
		start := time.Now()
		v, err := h(r.Context(), body)
		if err != nil {
			var he *httpError
			switch {
			case errors.As(err, &he):
				writeError(w, he.status, he.msg)
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				writeError(w, http.StatusServiceUnavailable, err.Error())
			default:
				// Errors from explain are about the input (lengths, ids, layers).
				writeError(w, http.StatusUnprocessableEntity, err.Error())
			}
			return
		}
		if s.opt.Logger != nil {
			s.opt.Logger.Printf("%s %s %v", r.Method, r.URL.Path, time.Since(start).Round(time.Millisecond))
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func decode(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("bad JSON request: %v", err)
	}
	if dec.More() {
		return badRequest("bad JSON request: more than one value")
	}
	return nil
}

// SamplingRequest holds the decoding fields shared by both endpoints.
type SamplingRequest struct {
	MaxNewTokens      *int    `json:"max_new_tokens"`
	Greedy            *bool   `json:"greedy"`
	Temperature       float64 `json:"temperature"`
	TopK              int     `json:"top_k"`
	TopP              float64 `json:"top_p"`
	MinP              float64 `json:"min_p"`
	TypicalP          float64 `json:"typical_p"`
	RepetitionPenalty float64 `json:"repetition_penalty"`
	Seed              uint64  `json:"seed"`
}

// GenerateRequest is the body of POST /api/generate.
type GenerateRequest struct {
	Prompt string `json:"prompt"`
	SamplingRequest
}

// GenerateResponse is its answer.
type GenerateResponse struct {
	Model        string   `json:"model"`
	IDs          []int    `json:"ids"`
	Tokens       []string `json:"tokens"`
	PromptLength int      `json:"prompt_length"`
	Text         string   `json:"text"`
}

// ExplainRequest is the body of POST /api/explain.
type ExplainRequest struct {
	Prompt       string   `json:"prompt"`
	Continuation *string  `json:"continuation"`
	Methods      []string `json:"methods"`
	Target       string   `json:"target"`
	IGSteps      int      `json:"ig_steps"`
	Raw          bool     `json:"raw"`
	Watch        []string `json:"watch"`
	NMF          int      `json:"nmf_components"`
	FromLayer    int      `json:"from_layer"`
	ToLayer      *int     `json:"to_layer"`
	NoAttention  bool     `json:"no_attention"`
	// Interventions scale MLP neurons and regenerate (Ecco's inhibit/induce).
	Interventions []explain.Intervention `json:"interventions"`
	SamplingRequest
}

func (s *Server) prompt(p string) ([]int, error) {
	if strings.TrimSpace(p) == "" {
		return nil, badRequest("prompt is empty")
	}
	if len(p) > 16*s.opt.MaxPromptTokens {
		return nil, badRequest("prompt of %d bytes is too long", len(p))
	}
	ids, err := s.e.Encode(p)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	limit := min(s.opt.MaxPromptTokens, s.e.Model.Config.NPositions-1)
	if len(ids) > limit {
		return nil, badRequest("prompt is %d tokens; the limit is %d", len(ids), limit)
	}
	return ids, nil
}

func (s *Server) sampling(r SamplingRequest) (generate.Sampling, int, error) {
	n := min(8, s.opt.MaxNewTokens)
	if r.MaxNewTokens != nil {
		n = *r.MaxNewTokens
	}
	if n < 0 || n > s.opt.MaxNewTokens {
		return generate.Sampling{}, 0, badRequest("max_new_tokens %d outside 0..%d", n, s.opt.MaxNewTokens)
	}
	greedy := true
	if r.Greedy != nil {
		greedy = *r.Greedy
	}
	sp := generate.Sampling{Greedy: greedy, Temperature: r.Temperature, TopK: r.TopK, TopP: r.TopP, MinP: r.MinP,
		Typical: r.TypicalP, RepetitionPenalty: r.RepetitionPenalty, Seed: r.Seed}
	if err := sp.Check(); err != nil {
		return sp, 0, badRequest("%v", err)
	}
	return sp, n, nil
}

func (s *Server) generate(ctx context.Context, body []byte) (any, error) {
	var req GenerateRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	ids, err := s.prompt(req.Prompt)
	if err != nil {
		return nil, err
	}
	sp, n, err := s.sampling(req.SamplingRequest)
	if err != nil {
		return nil, err
	}
	out, err := s.e.Generate(ctx, ids, n, sp)
	if err != nil {
		return nil, err
	}
	all := append(ids, out...)
	resp := GenerateResponse{Model: s.e.Name, IDs: all, PromptLength: len(ids), Text: s.e.Tok.Decode(out)}
	for _, id := range all {
		resp.Tokens = append(resp.Tokens, s.e.TokenText(id))
	}
	return resp, nil
}

func (s *Server) explain(ctx context.Context, body []byte) (any, error) {
	var req ExplainRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if _, err := s.prompt(req.Prompt); err != nil {
		return nil, err
	}
	sp, n, err := s.sampling(req.SamplingRequest)
	if err != nil {
		return nil, err
	}
	if req.Continuation != nil {
		if len(*req.Continuation) > 16*s.opt.MaxNewTokens {
			return nil, badRequest("continuation of %d bytes is too long", len(*req.Continuation))
		}
		if ids := s.e.Tok.Encode(*req.Continuation); len(ids) > s.opt.MaxNewTokens {
			return nil, badRequest("continuation is %d tokens; the limit is %d", len(ids), s.opt.MaxNewTokens)
		}
	}
	methods, err := explain.ParseMethods(strings.Join(req.Methods, ","))
	if err != nil {
		return nil, badRequest("%v", err)
	}
	opt := explain.Options{Methods: methods, IGSteps: req.IGSteps, Raw: req.Raw, NMFComponents: req.NMF,
		FromLayer: req.FromLayer, ToLayer: -1, NoAttention: req.NoAttention}
	if len(req.Interventions) > 64 {
		return nil, badRequest("%d interventions; the limit is 64", len(req.Interventions))
	}
	opt.Interventions = req.Interventions
	if req.ToLayer != nil {
		opt.ToLayer = *req.ToLayer
	}
	switch req.Target {
	case "", "prob", "probability":
	case "logit":
		opt.Target = explain.TargetLogit
	default:
		return nil, badRequest("target %q: want prob or logit", req.Target)
	}
	if req.IGSteps < 0 || req.IGSteps > s.opt.MaxIGSteps {
		return nil, badRequest("ig_steps %d outside 0..%d", req.IGSteps, s.opt.MaxIGSteps)
	}
	if req.NMF < 0 || req.NMF > s.opt.MaxNMF {
		return nil, badRequest("nmf_components %d outside 0..%d", req.NMF, s.opt.MaxNMF)
	}
	if len(req.Watch) > 0 {
		if opt.Watch, err = s.e.WatchIDs(req.Watch); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	return s.e.Explain(ctx, explain.Request{Prompt: req.Prompt, Continuation: req.Continuation, MaxNewTokens: n, Sampling: sp, Options: opt})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
