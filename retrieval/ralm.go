package retrieval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/tokenizer"
)

var _ generate.Contexter = (*RALM)(nil)

// The defaults of RALMOptions: Ram et al.'s retrieval stride s = 4 and
// query length ℓ = 32 (their best trade-off for GPT-2 and OPT), one
// passage.
const (
	DefaultStride      = 4
	DefaultQueryTokens = 32
	DefaultPassages    = 1
	DefaultSeparator   = "\n"
	defaultCacheSize   = 4096
)

// RALMOptions control NewRALM. The zero value means the defaults.
type RALMOptions struct {
	// Stride is the retrieval stride s: the decoding loop asks for a new
	// context (and so a new retrieval) every Stride generated tokens (0:
	// DefaultStride).
	Stride int
	// QueryTokens is the query length ℓ: the retrieval query is the text
	// of the last QueryTokens tokens (0: DefaultQueryTokens).
	QueryTokens int
	// K is the number of passages put in front of the text (0:
	// DefaultPassages).
	K int
	// MaxPassageTokens caps the tokens of passages (separators included)
	// in a context (0: half the budget, so that neither the passages nor
	// the text take all of it; a value of the model's context size or more
	// lets the passages crowd older text out).
	MaxPassageTokens int
	// Separator is the text put after each passage ("": DefaultSeparator,
	// a newline).
	Separator string
	// Search are the options of each retrieval (filter, ef, ranking mode);
	// K is ignored.
	Search search.SearchOptions
}

// Retrieved is what a RALM put in front of a row's text the last time it
// built the row's context.
type Retrieved struct {
	// Query is the text retrieved with (the last QueryTokens tokens).
	Query string `json:"query"`
	// Passages are the chunks retrieved, best first, and used: a passage
	// that did not fit at all is left out.
	Passages []Chunk `json:"passages"`
	// PassageTokens is the number of leading tokens of the context that
	// are passage (separators included); the rest, TextTokens, is the
	// text's tail.
	PassageTokens int `json:"passage_tokens"`
	TextTokens    int `json:"text_tokens"`
	// CutTokens is the number of passage tokens cut off to fit the budget
	// or MaxPassageTokens.
	CutTokens int `json:"cut_tokens"`
	// Cached reports that the retrieval for Query was remembered from an
	// earlier call.
	Cached bool `json:"cached"`
}

// RALM is in-context retrieval augmentation (Ram et al. 2023) for a
// frozen language model: a generate.Contexter. Every Stride tokens the
// decoding loop gives Context the text so far; the last QueryTokens
// tokens, decoded, are the query; the K nearest chunks of the store are
// the passages, each the chunk's text followed by its continuation (Ram
// et al. retrieve whole passages, and a RETRO chunk's continuation is what
// the corpus said next: the part most likely to help predict what comes
// after the query), each followed by Separator; the context is the
// passages, the best one last (next to the text), then the text's tail.
//
// The context fits in budget tokens by this rule:
//
//  1. the text's last min(Stride, budget) tokens are always kept (the
//     tokens generated since the last rebuild and the one the next token
//     follows);
//  2. the passages get the room left, up to MaxPassageTokens (by default
//     half the budget): best first, each passage and its separator take
//     what room remains, a passage that does not fit whole is cut at its
//     end (its continuation goes before the chunk's own text), and one
//     for which no more than its separator's tokens remain is left out;
//  3. the older text gets what the passages leave, cut from the left.
//
// So a passage is cut before the text's last Stride tokens are, and
// beyond its share of the budget before any text is; within its share a
// passage is kept and the oldest text goes first.
//
// Retrievals are remembered per query text, so rows and steps that ask
// the same query search once. A RALM is safe for concurrent use.
type RALM struct {
	s    *Store
	tok  *tokenizer.BPE
	opts RALMOptions
	sep  []int

	mu    sync.Mutex
	cache map[string]*retrieval
	last  map[int]Retrieved
}

// retrieval is one query's chunks and their passage tokens (without
// separator).
type retrieval struct {
	chunks   []Chunk
	passages [][]int
}

// NewRALM returns the in-context RALM over store s, whose tokenizer (the
// LM's, checked by Open) encodes passages and decodes queries.
func NewRALM(s *Store, opts RALMOptions) (*RALM, error) {
	if opts.Stride == 0 {
		opts.Stride = DefaultStride
	}
	if opts.QueryTokens == 0 {
		opts.QueryTokens = DefaultQueryTokens
	}
	if opts.K == 0 {
		opts.K = DefaultPassages
	}
	if opts.Separator == "" {
		opts.Separator = DefaultSeparator
	}
	bad := func(field string, v any) error {
		return &search.OptionError{Field: field, Value: v, Allowed: "a positive number"}
	}
	switch {
	case opts.Stride < 0:
		return nil, bad("Stride", opts.Stride)
	case opts.QueryTokens < 0:
		return nil, bad("QueryTokens", opts.QueryTokens)
	case opts.K < 0:
		return nil, bad("K", opts.K)
	case opts.MaxPassageTokens < 0:
		return nil, &search.OptionError{Field: "MaxPassageTokens", Value: opts.MaxPassageTokens, Allowed: "0 or more (0: half the budget)"}
	}
	opts.Search.K = opts.K
	if err := opts.Search.Validate(); err != nil {
		return nil, err
	}
	return &RALM{s: s, tok: s.Tokenizer(), opts: opts, sep: s.Tokenizer().Encode(opts.Separator),
		cache: map[string]*retrieval{}, last: map[int]Retrieved{}}, nil
}

// Stride returns the retrieval stride s.
func (r *RALM) Stride() int { return r.opts.Stride }

// Options returns the options in use, defaults filled in.
func (r *RALM) Options() RALMOptions { return r.opts }

// Last returns what the last Context call for row put in front of its
// text, and false if there was none.
func (r *RALM) Last(row int) (Retrieved, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got, ok := r.last[row]
	return got, ok
}

// Reset forgets what Last reports for every row (the retrieval cache is
// kept): for reusing a RALM for another generation.
func (r *RALM) Reset() {
	r.mu.Lock()
	clear(r.last)
	r.mu.Unlock()
}

// Context returns the tokens the model conditions on for text (the row's
// prompt and generated ids): retrieved passages and the text's tail, at
// most budget tokens, ending with text's last token (see RALM for the
// rule). What it used is then Last(row).
func (r *RALM) Context(ctx context.Context, row int, text []int, budget int) ([]int, error) {
	if len(text) == 0 {
		return nil, errors.New("retrieval: RALM context: empty text")
	}
	if budget < 1 {
		return nil, fmt.Errorf("retrieval: RALM context: budget %d: want a positive number", budget)
	}
	query := r.tok.Decode(text[max(0, len(text)-r.opts.QueryTokens):])
	got, cached, err := r.retrieve(ctx, query)
	if err != nil {
		return nil, err
	}
	floor := min(len(text), r.opts.Stride, budget)
	room := budget - floor
	if r.opts.MaxPassageTokens > 0 {
		room = min(room, r.opts.MaxPassageTokens)
	} else {
		room = min(room, budget/2)
	}
	// Best first: each passage gets what room is left.
	kept := make([][]int, 0, len(got.passages))
	used, cut := 0, 0
	var chunks []Chunk
	for i, p := range got.passages {
		left := room - used - len(r.sep)
		if left <= 0 {
			cut += len(p) + len(r.sep)
			continue
		}
		n := min(len(p), left)
		cut += len(p) - n
		kept = append(kept, p[:n])
		used += n + len(r.sep)
		chunks = append(chunks, got.chunks[i])
	}
	keepText := min(len(text), budget-used)
	out := make([]int, 0, used+keepText)
	for i := len(kept) - 1; i >= 0; i-- { // the best passage last, next to the text
		out = append(out, kept[i]...)
		out = append(out, r.sep...)
	}
	out = append(out, text[len(text)-keepText:]...)
	r.mu.Lock()
	r.last[row] = Retrieved{Query: query, Passages: chunks, PassageTokens: used, TextTokens: keepText, CutTokens: cut, Cached: cached}
	r.mu.Unlock()
	return out, nil
}

// retrieve returns the chunks and passage tokens for query, from the
// cache when it was asked before. A query of white space alone retrieves
// nothing.
func (r *RALM) retrieve(ctx context.Context, query string) (*retrieval, bool, error) {
	r.mu.Lock()
	got, ok := r.cache[query]
	r.mu.Unlock()
	if ok {
		return got, true, nil
	}
	got = &retrieval{}
	if strings.TrimSpace(query) != "" {
		chunks, err := r.s.Retrieve(ctx, query, r.opts.K, r.opts.Search)
		if err != nil {
			return nil, false, err
		}
		got.chunks = chunks
		for _, c := range chunks {
			got.passages = append(got.passages, r.tok.Encode(c.Text+c.Continuation))
		}
	}
	r.mu.Lock()
	if len(r.cache) >= defaultCacheSize {
		clear(r.cache)
	}
	r.cache[query] = got
	r.mu.Unlock()
	return got, false, nil
}
