package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/seq2seq"
	"github.com/loupe-ml/loupe/web"
)

// Options sets the server's limits. Zero values take the defaults shown.
type Options struct {
	MaxBodyBytes    int64 // 64 KiB
	MaxPromptTokens int   // 256 (and never more than the model's context)
	MaxNewTokens    int   // 64
	MaxIGSteps      int   // 64 (explain allows explain.MaxIGSteps)
	MaxConcurrent   int   // 2 explanations or generations at once
	// Addr is the address the server listens on (host:port). When its host
	// is a loopback address or "localhost", requests whose Host header is
	// not localhost, 127.0.0.1 or [::1] (with Addr's port, when it is not 0)
	// are refused with 421, which stops DNS-rebinding attacks from reading
	// the API. Empty: no Host check.
	Addr   string
	Logger *log.Logger
}

// Server serves one model: generation with its pipeline's settings and
// explanations. It runs a GPT-2 (New) or an encoder-decoder (NewSeq2Seq).
type Server struct {
	p    *generate.Pipeline
	e    *explain.Explainer
	s2s  *seq2seq.Pipeline // the encoder-decoder of NewSeq2Seq (p and e nil)
	name string
	opt  Options
	sem  chan struct{}
	mux  *http.ServeMux
	page []byte
}

// New returns a Server for the loaded model p with the given limits. It
// decodes as loupe generate does: a setting a request leaves out takes the
// model's generation_config.json (generate.Pipeline.Resolve). p needs a
// tokenizer.
func New(p *generate.Pipeline, opt Options) (*Server, error) {
	e, err := explain.New(p)
	if err != nil {
		return nil, err
	}
	s := makeServer(e.Name, opt, web.ServerPage(e.Name))
	s.p, s.e = p, e
	return s, nil
}

// makeServer returns a Server with opt's defaults filled in and its routes,
// serving page at "/".
func makeServer(name string, opt Options, page []byte) *Server {
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
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = 2
	}
	s := &Server{name: name, opt: opt, sem: make(chan struct{}, opt.MaxConcurrent), mux: http.NewServeMux(), page: page}
	s.mux.HandleFunc("/", s.index)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "model": name})
	})
	s.mux.HandleFunc("/api/generate", s.post(s.generate))
	s.mux.HandleFunc("/api/explain", s.post(s.explain))
	return s
}

// Serve serves HTTP on ln until ctx is done, then stops accepting
// connections and waits up to 30 seconds for running requests to finish.
// Slow clients are cut off (10 s to send the headers, 30 s the request).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if s.opt.Logger != nil {
		s.opt.Logger.Print("shutting down: waiting for running requests")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// ListenAndServe listens on opt.Addr, makes a Server for p that checks
// Host headers against the address it got (a port 0 resolved), calls
// ready, when not nil, with the server's URL ("http://host:port/"), and
// serves until ctx is done (Serve).
func ListenAndServe(ctx context.Context, p *generate.Pipeline, opt Options, ready func(url string)) error {
	return listenAndServe(ctx, opt, ready, func(opt Options) (*Server, error) { return New(p, opt) })
}

// ListenAndServeSeq2Seq is ListenAndServe for an encoder-decoder model
// (NewSeq2Seq).
func ListenAndServeSeq2Seq(ctx context.Context, p *seq2seq.Pipeline, opt Options, ready func(url string)) error {
	return listenAndServe(ctx, opt, ready, func(opt Options) (*Server, error) { return NewSeq2Seq(p, opt) })
}

// listenAndServe listens on opt.Addr, makes the Server with opt.Addr the
// address got, and serves (ListenAndServe).
func listenAndServe(ctx context.Context, opt Options, ready func(url string), newServer func(Options) (*Server, error)) error {
	ln, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return fmt.Errorf("server: %w", err) // a *net.OpError
	}
	defer ln.Close()
	opt.Addr = ln.Addr().String()
	s, err := newServer(opt)
	if err != nil {
		return err
	}
	if ready != nil {
		ready("http://" + opt.Addr + "/")
	}
	return s.Serve(ctx, ln)
}

// ServeHTTP implements http.Handler. It refuses requests whose Host header
// does not name this server when it listens on loopback (DNS rebinding), and
// cross-origin POSTs (CSRF), before routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if msg := s.checkHost(r.Host); msg != "" {
		writeError(w, http.StatusMisdirectedRequest, msg)
		return
	}
	if r.Method == http.MethodPost {
		if msg := crossOrigin(r); msg != "" {
			writeError(w, http.StatusForbidden, msg)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// checkHost returns why host is refused, or "" when it is acceptable.
func (s *Server) checkHost(host string) string {
	if s.opt.Addr == "" {
		return ""
	}
	lhost, lport, err := net.SplitHostPort(s.opt.Addr)
	if err != nil || !isLoopback(lhost) {
		return ""
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil { // no port: the browser leaves out :80
		h, p = strings.Trim(host, "[]"), "80"
	}
	if isLoopback(h) && (lport == "" || lport == "0" || p == lport) {
		return ""
	}
	return fmt.Sprintf("Host %q is not this server's address: loupe serve listening on %s answers only localhost, 127.0.0.1 and [::1] on port %s (a guard against DNS rebinding; listen on a non-loopback --addr to serve other names)", host, s.opt.Addr, lport)
}

// isLoopback reports whether host (without port or brackets) is
// "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// crossOrigin returns why r, a POST, is refused as a cross-origin request,
// or "" when it is not one. A browser sends Origin with every cross-origin
// POST; a request with no Origin (curl, scripts) is accepted, whatever its
// Content-Type, so that `curl -d '{...}'` keeps working. A cross-origin
// request is refused whether it is a "simple" text/plain or form POST
// (which a browser sends without asking first) or not.
func crossOrigin(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return fmt.Sprintf("cross-origin request refused (Sec-Fetch-Site: %s): the API answers only the page loupe serve itself serves, and clients that send no Origin such as curl", site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	why := "cross-origin request refused"
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		why = "cross-origin " + ct + " request refused"
	}
	return fmt.Sprintf("%s: Origin %q does not match Host %q; the API answers only the page loupe serve itself serves, and clients that send no Origin such as curl", why, origin, r.Host)
}

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
		// encoding/json would turn invalid UTF-8 into U+FFFD silently;
		// loupe generate refuses such a prompt, and so does the API.
		if !utf8.Valid(body) {
			writeError(w, http.StatusBadRequest, "the request body is not valid UTF-8")
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
			var oe *generate.OptionError
			switch {
			case errors.As(err, &oe) && oe.File == "":
				writeError(w, http.StatusBadRequest, optionMessage(oe))
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

// SamplingRequest holds the decoding fields shared by both endpoints,
// with generation_config.json's names and meanings. A field left out takes
// the model's generation_config.json, then the default, exactly as a flag
// left out of loupe generate does, so that the same prompt and seed give
// the same text (seed absent: a random one, which the answer reports).
// "greedy": true is do_sample false.
type SamplingRequest struct {
	MaxNewTokens      *int     `json:"max_new_tokens"`
	Greedy            *bool    `json:"greedy"`
	Temperature       *float64 `json:"temperature"`
	TopK              *int     `json:"top_k"`
	TopP              *float64 `json:"top_p"`
	MinP              *float64 `json:"min_p"`
	TypicalP          *float64 `json:"typical_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	NoRepeatNGramSize *int     `json:"no_repeat_ngram_size"`
	MinNewTokens      *int     `json:"min_new_tokens"`
	// NumBeams runs beam search (the answer is the best sequence).
	NumBeams      *int     `json:"num_beams"`
	LengthPenalty *float64 `json:"length_penalty"`
	Seed          *uint64  `json:"seed"`
	// Stop ends generation before the first occurrence of any of these
	// strings in the generated text (loupe generate --stop).
	Stop []string `json:"stop"`
}

// GenerateRequest is the body of POST /api/generate.
type GenerateRequest struct {
	Prompt string `json:"prompt"`
	SamplingRequest
}

// GenerateResponse is its answer: the fields of loupe generate --format json
// (prompt_ids; ids = the generated ids only, including an EOS or the token
// that completed a stop string; text = the generated text without EOS or the
// stop string; logprobs; stats) plus the model name and why generation
// ended ("length", "eos", "stop" or "context").
type GenerateResponse struct {
	Model string `json:"model"`
	*generate.Result
	Finish string `json:"finish"`
	Seed   uint64 `json:"seed"` // the seed used (the request's, or a random one)
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
	NMF          *int     `json:"nmf_components"` // default 10`
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

// decoding merges r (and the stop strings) with the model's generation
// settings for a prompt of promptLen tokens. A request's max_new_tokens
// above the server's limit is an error; a default above it is lowered to
// it.
func (s *Server) decoding(r SamplingRequest, promptLen int) (generate.Options, generate.Beams, error) {
	set, err := r.settings()
	if err != nil {
		return generate.Options{}, generate.Beams{}, err
	}
	opt, b, err := s.p.Resolve(set, promptLen)
	if err != nil {
		return opt, b, err
	}
	if opt.MaxNewTokens > s.opt.MaxNewTokens {
		if r.MaxNewTokens != nil {
			return opt, b, badRequest("max_new_tokens %d: want at most %d (this server's limit)", *r.MaxNewTokens, s.opt.MaxNewTokens)
		}
		opt.MaxNewTokens = s.opt.MaxNewTokens
	}
	b.NumReturnSequences = 1 // one answer: the first of loupe generate's sequences
	return opt, b, nil
}

// settings checks r's stop strings and returns its fields as
// generate.Settings (nil fields: not given).
func (r SamplingRequest) settings() (generate.Settings, error) {
	if len(r.Stop) > 16 {
		return generate.Settings{}, badRequest("%d stop strings; the limit is 16", len(r.Stop))
	}
	for i, st := range r.Stop {
		if len(st) > 256 {
			return generate.Settings{}, badRequest("stop[%d] is %d bytes; the limit is 256", i, len(st))
		}
	}
	set := generate.Settings{Seed: r.Seed, Stop: r.Stop}
	g := &set.GenerationConfig
	if r.Greedy != nil {
		g.DoSample = new(!*r.Greedy)
	}
	g.Temperature, g.TopK, g.TopP, g.MinP, g.TypicalP = r.Temperature, r.TopK, r.TopP, r.MinP, r.TypicalP
	g.RepetitionPenalty, g.NoRepeatNGramSize, g.MaxNewTokens, g.MinNewTokens = r.RepetitionPenalty, r.NoRepeatNGramSize, r.MaxNewTokens, r.MinNewTokens
	g.NumBeams, g.LengthPenalty = r.NumBeams, r.LengthPenalty
	return set, nil
}

// optionMessage names a setting the request gave by its JSON field.
func optionMessage(e *generate.OptionError) string {
	field := e.Field
	switch field {
	case "stop_strings":
		field = "stop"
	case "do_sample":
		field = "greedy"
	}
	msg := fmt.Sprintf("%s %s: want %s", field, e.Value, e.Allowed)
	if e.Field == "temperature" && e.Value == "0" {
		msg += ` (for greedy decoding use "greedy": true)`
	}
	return msg
}

func (s *Server) generate(ctx context.Context, body []byte) (any, error) {
	if s.s2s != nil {
		return s.generateSeq2Seq(ctx, body)
	}
	var req GenerateRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	ids, err := s.prompt(req.Prompt)
	if err != nil {
		return nil, err
	}
	opt, beams, err := s.decoding(req.SamplingRequest, len(ids))
	if err != nil {
		return nil, err
	}
	out, err := s.p.Run(ctx, ids, opt, beams)
	if err != nil {
		return nil, err
	}
	sq := out.Sequences[0]
	res := &generate.Result{PromptIDs: out.PromptIDs, IDs: sq.IDs, Text: sq.Text, Logprobs: sq.Logprobs, Stats: out.Stats}
	return GenerateResponse{Model: s.name, Result: res, Finish: sq.Finish, Seed: opt.Seed}, nil
}

func (s *Server) explain(ctx context.Context, body []byte) (any, error) {
	if s.s2s != nil {
		return s.explainSeq2Seq(ctx, body)
	}
	var req ExplainRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	ids, err := s.prompt(req.Prompt)
	if err != nil {
		return nil, err
	}
	gen, _, err := s.decoding(req.SamplingRequest, len(ids))
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
	if req.IGSteps > s.opt.MaxIGSteps {
		return nil, badRequest("ig_steps %d: want at most %d (this server's limit)", req.IGSteps, s.opt.MaxIGSteps)
	}
	if len(req.Interventions) > 64 {
		return nil, badRequest("%d interventions; the limit is 64", len(req.Interventions))
	}
	opt := explain.Options{IGSteps: req.IGSteps, Raw: req.Raw, NMFComponents: explain.DefaultNMFComponents,
		FromLayer: req.FromLayer, ToLayer: -1, NoAttention: req.NoAttention, Interventions: req.Interventions}
	if req.NMF != nil {
		opt.NMFComponents = *req.NMF
	}
	if req.ToLayer != nil {
		opt.ToLayer = *req.ToLayer
	}
	if opt.Methods, err = explain.ParseMethods(strings.Join(req.Methods, ",")); err != nil {
		return nil, err
	}
	if opt.Target, err = explain.ParseTarget(req.Target); err != nil {
		return nil, err
	}
	if len(req.Watch) > 0 {
		if opt.Watch, err = s.e.WatchIDs(req.Watch); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	return s.e.Explain(ctx, explain.Request{Prompt: req.Prompt, Continuation: req.Continuation, Generate: gen, Options: opt})
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
