package server

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/seq2seq"
	"github.com/loupe-ml/loupe/web"
)

// NewSeq2Seq returns a Server for an encoder-decoder model p (BART, mBART,
// Marian, T5) with the given limits: POST /api/generate takes the same
// request as for a GPT-2 and runs p as text-to-text (the prompt is the
// source, as transformers' text2text-generation pipeline and loupe
// generate on such a model), answering the same fields (prompt_ids are
// then the decoder's start); POST /api/translate (TranslateRequest) and
// POST /api/summarize add the tasks of loupe translate and loupe
// summarize; POST /api/explain answers
// seq2seq.Explanation's JSON (Seq2SeqExplainRequest); "/" serves the
// encoder-decoder explorable with a source box. A setting a request leaves
// out takes the model's generation settings (seq2seq.Pipeline.Resolve).
// p needs a tokenizer.
func NewSeq2Seq(p *seq2seq.Pipeline, opt Options) (*Server, error) {
	if p.Tokenizer == nil {
		_, err := p.EncodeText("x") // names the files a tokenizer needs
		return nil, err
	}
	s := makeServer(p.Name, opt, web.Seq2SeqServerPage(p.Name))
	s.s2s = p
	s.mux.HandleFunc("/api/translate", s.post(s.translate))
	s.mux.HandleFunc("/api/summarize", s.post(s.summarize))
	return s, nil
}

// TranslateRequest is the body of POST /api/translate: /api/generate's
// fields, and the task and languages of transformers' translation
// pipeline: "from" and "to" pick config.json's task_specific_params
// translation_FROM_to_TO (T5's prefix and settings), "src_lang" and
// "tgt_lang" an mBART model's language codes.
type TranslateRequest struct {
	GenerateRequest
	From    string `json:"from"`
	To      string `json:"to"`
	SrcLang string `json:"src_lang"`
	TgtLang string `json:"tgt_lang"`
}

// translate answers POST /api/translate as loupe translate --from --to
// --src-lang --tgt-lang does.
func (s *Server) translate(ctx context.Context, body []byte) (any, error) {
	var req TranslateRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	p := s.s2s
	var err error
	if (req.From == "") != (req.To == "") {
		return nil, badRequest("give from and to together (they name config.json's task translation_FROM_to_TO)")
	}
	if req.From != "" {
		if p, err = p.WithTask("translation_" + req.From + "_to_" + req.To); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	if req.SrcLang != "" || req.TgtLang != "" {
		if p, err = p.WithLanguages(req.SrcLang, req.TgtLang); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	return s.runSeq2Seq(ctx, p, req.GenerateRequest)
}

// summarize answers POST /api/summarize as loupe summarize does: with
// config.json's summarization task when the model lists it (T5's
// "summarize: " prefix and settings).
func (s *Server) summarize(ctx context.Context, body []byte) (any, error) {
	var req GenerateRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	p := s.s2s
	if slices.Contains(p.Tasks(), "summarization") {
		var err error
		if p, err = p.WithTask("summarization"); err != nil {
			return nil, err
		}
	}
	return s.runSeq2Seq(ctx, p, req)
}

// Seq2SeqExplainRequest is the body of POST /api/explain on an
// encoder-decoder model: the source ("prompt"), an optional target to
// explain instead of generating one ("continuation" as text, encoded as
// the source is, or "continuation_ids" after the decoder's start), the
// source tokens listed per target token ("top_sources"), the tokens per
// layer prediction ("layer_top_k"), "no_attention" (leave the encoder and
// decoder self-attention out), and the decoding fields.
type Seq2SeqExplainRequest struct {
	Prompt          string  `json:"prompt"`
	Continuation    *string `json:"continuation"`
	ContinuationIDs []int   `json:"continuation_ids"`
	TopSources      int     `json:"top_sources"`
	LayerTopK       int     `json:"layer_top_k"`
	NoAttention     bool    `json:"no_attention"`
	// Methods, Target and IGSteps ask for input saliency (as loupe
	// translate --explain's --methods, --target, --ig-steps); no methods:
	// none.
	Methods []string `json:"methods"`
	Target  string   `json:"target"`
	IGSteps int      `json:"ig_steps"`
	SamplingRequest
}

// source encodes a request's source text and checks it against the
// server's limit.
func (s *Server) source(p *seq2seq.Pipeline, text string) ([]int, error) {
	if strings.TrimSpace(text) == "" {
		return nil, badRequest("prompt is empty")
	}
	if len(text) > 16*s.opt.MaxPromptTokens {
		return nil, badRequest("prompt of %d bytes is too long", len(text))
	}
	ids, err := p.EncodeText(text)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if len(ids) > s.opt.MaxPromptTokens {
		return nil, badRequest("prompt is %d tokens; the limit is %d", len(ids), s.opt.MaxPromptTokens)
	}
	return ids, nil
}

// seq2seqSettings merges r with the model's generation settings, as
// decoding does for a GPT-2: a max_new_tokens above the server's limit is
// an error, a default length above it is lowered to it, and one sequence
// is answered.
func (s *Server) seq2seqSettings(p *seq2seq.Pipeline, r SamplingRequest) (generate.Settings, error) {
	set, err := r.settings()
	if err != nil {
		return set, err
	}
	opt, _, _, err := p.Resolve(set)
	if err != nil {
		return set, err
	}
	if opt.MaxNewTokens > s.opt.MaxNewTokens {
		if r.MaxNewTokens != nil {
			return set, badRequest("max_new_tokens %d: want at most %d (this server's limit)", *r.MaxNewTokens, s.opt.MaxNewTokens)
		}
		set.MaxNewTokens, set.MaxLength = new(s.opt.MaxNewTokens), nil
	}
	set.NumReturnSequences = new(1)
	return set, nil
}

func (s *Server) generateSeq2Seq(ctx context.Context, body []byte) (any, error) {
	var req GenerateRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return s.runSeq2Seq(ctx, s.s2s, req)
}

// runSeq2Seq decodes req's source with p (the server's pipeline, or a copy
// with a task or languages) and answers /api/generate's fields.
func (s *Server) runSeq2Seq(ctx context.Context, p *seq2seq.Pipeline, req GenerateRequest) (any, error) {
	src, err := s.source(p, req.Prompt)
	if err != nil {
		return nil, err
	}
	set, err := s.seq2seqSettings(p, req.SamplingRequest)
	if err != nil {
		return nil, err
	}
	if set.Seed == nil {
		set.Seed = new(rand.Uint64())
	}
	out, err := p.RunIDs(ctx, src, set, nil)
	if err != nil {
		return nil, err
	}
	sq := out.Sequences[0]
	res := &generate.Result{PromptIDs: out.PromptIDs, IDs: sq.IDs, Text: sq.Text, Logprobs: sq.Logprobs, Stats: out.Stats}
	return GenerateResponse{Model: s.name, Result: res, Finish: sq.Finish, Seed: *set.Seed}, nil
}

// Seq2SeqExplainResponse is the answer of POST /api/explain on an
// encoder-decoder model: seq2seq.Explanation's fields.
type Seq2SeqExplainResponse = seq2seq.Explanation

func (s *Server) explainSeq2Seq(ctx context.Context, body []byte) (any, error) {
	var req Seq2SeqExplainRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	src, err := s.source(s.s2s, req.Prompt)
	if err != nil {
		return nil, err
	}
	set, err := s.seq2seqSettings(s.s2s, req.SamplingRequest)
	if err != nil {
		return nil, err
	}
	if set.Seed == nil {
		set.Seed = new(rand.Uint64())
	}
	opt := seq2seq.ExplainOptions{TopSources: req.TopSources, LayerTopK: req.LayerTopK, NoSelfAttention: req.NoAttention, IGSteps: req.IGSteps}
	if req.IGSteps > s.opt.MaxIGSteps {
		return nil, badRequest("ig_steps %d: want at most %d (this server's limit)", req.IGSteps, s.opt.MaxIGSteps)
	}
	if opt.Methods, err = explain.ParseMethods(strings.Join(req.Methods, ",")); err != nil {
		return nil, err
	}
	if opt.Target, err = explain.ParseTarget(req.Target); err != nil {
		return nil, err
	}
	switch {
	case req.Continuation != nil && req.ContinuationIDs != nil:
		return nil, badRequest("give continuation or continuation_ids, not both")
	case req.Continuation != nil:
		if len(*req.Continuation) > 16*s.opt.MaxNewTokens {
			return nil, badRequest("continuation of %d bytes is too long", len(*req.Continuation))
		}
		if opt.Continuation, err = s.s2s.EncodeTarget(*req.Continuation); err != nil {
			return nil, badRequest("continuation: %v", err)
		}
	case req.ContinuationIDs != nil:
		opt.Continuation = req.ContinuationIDs
	}
	if len(opt.Continuation) > s.opt.MaxNewTokens {
		return nil, badRequest("continuation is %d tokens; the limit is %d", len(opt.Continuation), s.opt.MaxNewTokens)
	}
	if req.LayerTopK > 100 {
		return nil, badRequest("layer_top_k %d: want at most 100", req.LayerTopK)
	}
	return s.s2s.Explain(ctx, src, set, opt)
}
