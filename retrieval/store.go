package retrieval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/tokenizer"
)

// DefaultK is the number of neighbours per chunk that loupe rag query
// shows (RETRO retrieves 2 in most of its experiments).
const DefaultK = 2

// Store is an open chunk store: the index of embedded chunks, its
// manifest and the LM tokenizer it was checked against. It is safe for
// concurrent retrievals; Close must not run concurrently with them.
type Store struct {
	dir string
	man *Manifest
	s   *search.Store
	tok *tokenizer.BPE
	lm  string // the reference the tokenizer was loaded from or named by
}

// OpenOptions control Open. The zero value opens a store with the
// tokenizer of the LM its manifest records.
type OpenOptions struct {
	// LM is the language model the store is to serve (a hub id or a
	// directory): its tokenizer must be the one the store was built with.
	// Empty means the model the manifest records.
	LM string
	// Tokenizer, if set, is LM's tokenizer, already loaded (a
	// generate.Pipeline's); it is checked instead of loading LM's.
	Tokenizer *tokenizer.BPE
	// EmbedModel, if set, replaces the embedding model the store records
	// (it must make vectors of the same dimension).
	EmbedModel string
	// Embed are the options of the embedding model.
	Embed embed.Options
	// Hub resolves hub ids; nil means hub.NewClient().
	Hub *hub.Client
}

// TokenizerError reports that a store's chunks were cut with another
// tokenizer than the LM's it is opened for (issue 13, item 6).
type TokenizerError struct {
	Store     string      // the store directory
	Built     TokenizerID // what the manifest records
	Requested TokenizerID // the LM's tokenizer
}

func (e *TokenizerError) Error() string {
	return fmt.Sprintf("retrieval: store %s was built with the tokenizer of %s (%s, %d tokens), not that of %s (%s, %d tokens): rebuild it with loupe rag build --lm %s",
		e.Store, e.Built.Model, shortFingerprint(e.Built.Fingerprint), e.Built.VocabSize,
		e.Requested.Model, shortFingerprint(e.Requested.Fingerprint), e.Requested.VocabSize, e.Requested.Model)
}

// Open opens the chunk store in directory dir, checking that the LM's
// tokenizer (opts.LM or opts.Tokenizer; by default the manifest's LM) is
// the one the store was built with: otherwise a *TokenizerError.
func Open(ctx context.Context, dir string, opts OpenOptions) (*Store, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	lm := opts.LM
	switch {
	case lm == "" && opts.Tokenizer != nil:
		lm = "the tokenizer given"
	case lm == "":
		lm = man.LM.Model
	}
	tok := opts.Tokenizer
	if tok == nil {
		if tok, err = LoadTokenizer(ctx, lm, opts.Hub); err != nil {
			return nil, err
		}
	}
	if id := (TokenizerID{Model: lm, Fingerprint: Fingerprint(tok), VocabSize: tok.VocabSize()}); id.Fingerprint != man.LM.Fingerprint {
		return nil, &TokenizerError{Store: dir, Built: man.LM, Requested: id}
	}
	eo := opts.Embed
	if eo.Client == nil {
		eo.Client = opts.Hub
	}
	s, err := search.Open(dir, search.OpenOptions{Model: opts.EmbedModel, Embed: eo})
	if err != nil {
		return nil, err
	}
	if x := s.Index(); man.Chunks != x.Len() || man.NextID != x.NextID() {
		// An Update killed after saving the index and before writing the
		// manifest: the chunks say what the store holds.
		if err := recount(man, x); err != nil {
			s.Close()
			return nil, err
		}
	}
	return &Store{dir: dir, man: man, s: s, tok: tok, lm: lm}, nil
}

// LoadTokenizer loads the tokenizer of language model ref (a hub id or a
// directory) as a chunk store needs it: GPT-2's byte-level BPE.
func LoadTokenizer(ctx context.Context, ref string, c *hub.Client) (*tokenizer.BPE, error) {
	if ref == "" {
		return nil, errors.New("retrieval: no language model given for the chunks' tokenizer")
	}
	t, err := tokenizer.LoadRef(ctx, ref, tokenizer.LoadOptions{Hub: c})
	if err != nil {
		return nil, err
	}
	bpe, ok := t.(*tokenizer.BPE)
	if !ok {
		return nil, fmt.Errorf("retrieval: %s: the tokenizer is %T, not a language model's byte-level BPE", ref, t)
	}
	return bpe, nil
}

// LM returns the language model the store was opened for (OpenOptions.LM,
// or the one the manifest records).
func (s *Store) LM() string { return s.lm }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Manifest returns the store's manifest (not to be changed).
func (s *Store) Manifest() *Manifest { return s.man }

// Tokenizer returns the LM tokenizer the store was checked against.
func (s *Store) Tokenizer() *tokenizer.BPE { return s.tok }

// ChunkTokens returns the store's chunk size N.
func (s *Store) ChunkTokens() int { return s.man.ChunkTokens }

// Search returns the underlying search store (its index, embedder and
// model).
func (s *Store) Search() *search.Store { return s.s }

// Len returns the number of chunks that can be retrieved.
func (s *Store) Len() int { return s.s.Len() }

// Close releases the index and the embedding model.
func (s *Store) Close() error { return s.s.Close() }

// Chunk is one retrieved chunk: its text and continuation (RETRO's
// [N, F]), where it comes from and how near it is.
type Chunk struct {
	Rank     int     `json:"rank"` // from 1
	ID       uint64  `json:"id"`   // vector id in the index
	Score    float32 `json:"score"`
	Distance float32 `json:"distance"`
	Text     string  `json:"text"`
	// Continuation is the text of the chunk's next ChunkTokens tokens in
	// its source (fewer at the end of a file, "" for its last chunk).
	Continuation string `json:"continuation"`
	Source       string `json:"source"` // the corpus file
	Chunk        int    `json:"chunk"`  // the chunk's number in its file, from 0
	Offset       int    `json:"offset"` // the chunk's first token in its file
	Tokens       int    `json:"tokens"` // tokens in the chunk
	// ContinuationTokens is the number of tokens of Continuation.
	ContinuationTokens int `json:"continuation_tokens"`
}

// chunkMeta is the metadata stored with each chunk (the text is the
// document's).
type chunkMeta struct {
	Source             string `json:"source"`
	Chunk              int    `json:"chunk"`
	Offset             int    `json:"offset"`
	Tokens             int    `json:"tokens"`
	Continuation       string `json:"continuation"`
	ContinuationTokens int    `json:"continuation_tokens"`
}

func (m chunkMeta) fields() map[string]any {
	return map[string]any{"source": m.Source, "chunk": m.Chunk, "offset": m.Offset, "tokens": m.Tokens,
		"continuation": m.Continuation, "continuation_tokens": m.ContinuationTokens}
}

// chunkOf turns a search hit into a Chunk.
func chunkOf(h search.Hit) (Chunk, error) {
	var m chunkMeta
	if err := json.Unmarshal(h.Metadata, &m); err != nil {
		return Chunk{}, fmt.Errorf("retrieval: chunk %d: metadata: %w", h.ID, err)
	}
	return Chunk{Rank: h.Rank, ID: h.ID, Score: h.Score, Distance: h.Distance, Text: h.Text,
		Continuation: m.Continuation, Source: m.Source, Chunk: m.Chunk, Offset: m.Offset, Tokens: m.Tokens,
		ContinuationTokens: m.ContinuationTokens}, nil
}

// Retrieve returns the k chunks nearest text (k > 0 overrides opts.K; a
// zero opts.K and k mean DefaultK), searched with opts (filter, ef, and
// whatever ranking search.SearchOptions selects), nearest first.
func (s *Store) Retrieve(ctx context.Context, text string, k int, opts search.SearchOptions) ([]Chunk, error) {
	r, err := s.retrieveMany(ctx, []string{text}, k, opts)
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

func (s *Store) retrieveMany(ctx context.Context, texts []string, k int, opts search.SearchOptions) ([][]Chunk, error) {
	switch {
	case k > 0:
		opts.K = k
	case k < 0:
		return nil, &search.OptionError{Field: "K", Value: k, Allowed: "a positive number"}
	case opts.K == 0:
		opts.K = DefaultK
	}
	res, err := s.s.SearchMany(ctx, texts, opts)
	if err != nil {
		return nil, err
	}
	out := make([][]Chunk, len(res.Hits))
	for i, hits := range res.Hits {
		out[i] = make([]Chunk, len(hits))
		for j, h := range hits {
			if out[i][j], err = chunkOf(h); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// InputChunk is one chunk of the text given to Neighbours, with its
// neighbours.
type InputChunk struct {
	Chunk      int     `json:"chunk"`  // from 0
	Offset     int     `json:"offset"` // its first token in the text
	Tokens     int     `json:"tokens"`
	Text       string  `json:"text"`
	Neighbours []Chunk `json:"neighbours"`
}

// Neighbours is RETRO's retrieval step: text is tokenized with the LM
// tokenizer and split into chunks of the store's ChunkTokens (Split), and
// each chunk's k nearest stored chunks, with their continuations, are
// retrieved (k and opts as in Retrieve).
func (s *Store) Neighbours(ctx context.Context, text string, k int, opts search.SearchOptions) ([]InputChunk, error) {
	if !utf8.ValidString(text) {
		return nil, errors.New("retrieval: the text is not valid UTF-8")
	}
	ids := s.tok.Encode(text)
	if len(ids) == 0 {
		return nil, errors.New("retrieval: the text is empty")
	}
	spans := Split(len(ids), s.man.ChunkTokens)
	in := make([]InputChunk, len(spans))
	texts := make([]string, len(spans))
	for i, sp := range spans {
		texts[i] = s.tok.Decode(ids[sp.Start:sp.End])
		in[i] = InputChunk{Chunk: i, Offset: sp.Start, Tokens: sp.Len(), Text: texts[i]}
	}
	found, err := s.retrieveMany(ctx, texts, k, opts)
	if err != nil {
		return nil, err
	}
	for i := range in {
		in[i].Neighbours = found[i]
	}
	return in, nil
}
