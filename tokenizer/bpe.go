package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EndOfText is GPT-2's end-of-text token.
const EndOfText = "<|endoftext|>"

// BPE is a GPT-2 style byte-level byte-pair-encoding tokenizer: text is split
// into pre-tokens by the GPT-2 pattern (see PreTokenizeGPT2), each
// pre-token's UTF-8 bytes become one symbol per byte, and adjacent symbols
// are merged, lowest merge rank first, until no ranked pair is left.
//
// A BPE is safe for concurrent use. It remembers the ids of recently seen
// pre-tokens in a bounded cache.
type BPE struct {
	vocab  map[string]int
	tokens []string // id → vocabulary string ("" for an unused id)
	raw    [][]byte // id → the bytes the token stands for
	merges *mergeTable
	byteID [256]int32
	added  []addedToken // longest first
	eos    int
	maxLen int // tokenizer_config.json's model_max_length, 0 if unknown

	addPrefixSpace bool // ByteLevel add_prefix_space
	useRegex       bool // ByteLevel use_regex (true for GPT-2)
	ignoreMerges   bool // BPE ignore_merges: a pre-token in the vocabulary is taken whole
	hasPlainAdded  bool // some added token is not special (always matched)

	cache *wordCache
}

type bpeMerge struct {
	rank int32
	id   int32 // id of the merged token
}

type addedToken struct {
	content string
	id      int
	special bool
}

// cacheCapacity bounds the number of pre-tokens remembered by each BPE.
const cacheCapacity = 1 << 16

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// LoadBPE loads a byte-level BPE tokenizer from dir: tokenizer.json if it is
// there, otherwise vocab.json and merges.txt (the token "<|endoftext|>",
// when the vocabulary has it, is then the one special token).
// Either way, tokenizer_config.json's model_max_length, when the file
// gives one, is ModelMaxLength; the file is otherwise not read (a file that
// cannot be parsed is ignored, as GPT-2 needs nothing else from it).
func LoadBPE(dir string) (*BPE, error) {
	var t *BPE
	tj := filepath.Join(dir, "tokenizer.json")
	if data, err := os.ReadFile(tj); err == nil {
		if t, err = ParseBPEJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", tj, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	} else if t, err = LoadBPEFiles(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")); err != nil {
		return nil, err
	}
	if opt, err := readTokenizerConfig(dir); err == nil {
		t.maxLen = opt.ModelMaxLength
	}
	return t, nil
}

// LoadBPEFiles loads a byte-level BPE tokenizer from a vocab.json (token →
// id) and a merges.txt (one "left right" pair per line, best first; a first
// line starting with "#version" is skipped).
func LoadBPEFiles(vocabPath, mergesPath string) (*BPE, error) {
	vdata, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	vocab, err := parseVocabJSON(vdata)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: want a JSON object of token → id: %w", vocabPath, err)
	}
	mdata, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	merges, err := parseMergesTxt(mdata)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", mergesPath, err)
	}
	var added []addedToken
	if id, ok := vocab[EndOfText]; ok {
		added = append(added, addedToken{content: EndOfText, id: id, special: true})
	}
	t, err := newBPE(vocab, merges, added)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s, %s: %w", vocabPath, mergesPath, err)
	}
	return t, nil
}

func parseMergesTxt(data []byte) ([][2]string, error) {
	// Tokens are substrings of one string holding the whole file.
	text := string(data)
	merges := make([][2]string, 0, strings.Count(text, "\n")+1)
	for line := 1; len(text) > 0; line++ {
		s, rest, _ := strings.Cut(text, "\n")
		text = rest
		s = strings.TrimRight(s, "\r")
		if (line == 1 && strings.HasPrefix(s, "#version")) || strings.TrimSpace(s) == "" {
			continue
		}
		l, r, ok := strings.Cut(s, " ")
		if !ok || l == "" || r == "" || strings.ContainsAny(r, " \t") || strings.ContainsAny(l, "\t") {
			f := strings.Fields(s)
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: want two tokens separated by a space, got %q", line, truncateForError(s))
			}
			l, r = f[0], f[1]
		}
		merges = append(merges, [2]string{l, r})
	}
	return merges, nil
}

func truncateForError(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// newBPE builds a tokenizer from its vocabulary, ranked merges and added
// tokens. Every merge's parts and result must be in the vocabulary, and so
// must the 256 single-byte tokens.
func newBPE(vocab map[string]int, merges [][2]string, added []addedToken) (*BPE, error) {
	if len(vocab) == 0 {
		return nil, errors.New("empty vocabulary")
	}
	if len(merges) > math.MaxInt32 {
		return nil, errors.New("too many merges")
	}
	// The vocabulary map is taken over (callers pass a fresh one).
	t := &BPE{vocab: vocab, eos: -1, useRegex: true, cache: newWordCache(cacheCapacity)}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id > math.MaxInt32-1 {
			return nil, fmt.Errorf("vocabulary: token %q has id %d, want 0 ≤ id < 2³¹-1", truncateForError(tok), id)
		}
		maxID = max(maxID, id)
	}
	for _, a := range added {
		if a.id < 0 || a.id > math.MaxInt32-1 {
			return nil, fmt.Errorf("added token %q has id %d, want 0 ≤ id < 2³¹-1", truncateForError(a.content), a.id)
		}
		if a.content == "" {
			return nil, fmt.Errorf("added token with id %d has empty content", a.id)
		}
		maxID = max(maxID, a.id)
		t.vocab[a.content] = a.id
	}
	if maxID >= 1<<24 {
		return nil, fmt.Errorf("vocabulary: largest id %d is implausibly large", maxID)
	}
	t.tokens = make([]string, maxID+1)
	t.raw = make([][]byte, maxID+1)
	for tok, id := range t.vocab {
		if t.tokens[id] != "" && t.tokens[id] != tok {
			// Two strings for one id: keep the smaller, deterministically.
			if tok > t.tokens[id] {
				continue
			}
		}
		t.tokens[id] = tok
		t.raw[id], _ = tokenToBytes(tok)
	}
	for b := 0; b < 256; b++ {
		id, ok := t.vocab[byteRuneUTF8[b]]
		if !ok {
			return nil, fmt.Errorf("vocabulary lacks the byte-level token %q for byte 0x%02x (not a byte-level BPE vocabulary?)", byteRuneUTF8[b], b)
		}
		t.byteID[b] = int32(id)
	}
	t.merges = newMergeTable(len(merges))
	var buf []byte
	for rank, m := range merges {
		l, ok1 := t.vocab[m[0]]
		r, ok2 := t.vocab[m[1]]
		buf = append(append(buf[:0], m[0]...), m[1]...)
		id, ok3 := t.vocab[string(buf)]
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("merge %d (%q %q): token %q not in the vocabulary", rank+1,
				truncateForError(m[0]), truncateForError(m[1]), truncateForError(missingOf(ok1, ok2, m)))
		}
		// A repeated pair keeps its first (best) rank.
		t.merges.add(pairKey(int32(l), int32(r)), bpeMerge{rank: int32(rank), id: int32(id)})
	}
	t.added = append(t.added, added...)
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	for _, a := range t.added {
		if !a.special {
			t.hasPlainAdded = true
		}
		if a.content == EndOfText {
			t.eos = a.id
		}
	}
	if t.eos < 0 {
		if id, ok := t.vocab[EndOfText]; ok {
			t.eos = id
		}
	}
	return t, nil
}

func missingOf(ok1, ok2 bool, m [2]string) string {
	switch {
	case !ok1:
		return m[0]
	case !ok2:
		return m[1]
	}
	return m[0] + m[1]
}

// Encode returns the token ids of text. Special tokens such as
// "<|endoftext|>" are not recognised: they are encoded as the plain text
// they are spelled with, as OpenAI's original GPT-2 encoder (and tiktoken
// by default) does. Added tokens that are not special are recognised.
//
// text need not be valid UTF-8: invalid bytes are encoded as themselves (each
// grouped like the symbol U+FFFD), so DecodeBytes(Encode(s)) == s for every s.
func (t *BPE) Encode(text string) []int { return t.encode(text, false) }

// EncodeAllowSpecial is Encode but recognises special tokens in the text,
// as Hugging Face transformers' GPT2Tokenizer does by default: "a<|endoftext|>b"
// encodes "a", then the end-of-text id, then "b".
func (t *BPE) EncodeAllowSpecial(text string) []int { return t.encode(text, true) }

func (t *BPE) encode(text string, allowSpecial bool) []int {
	ids := make([]int, 0, len(text)/3+1)
	if (!allowSpecial && !t.hasPlainAdded) || len(t.added) == 0 {
		return t.encodeSegment(text, ids)
	}
	for len(text) > 0 {
		pos, tok := t.findAdded(text, allowSpecial)
		if tok == nil {
			return t.encodeSegment(text, ids)
		}
		ids = t.encodeSegment(text[:pos], ids)
		ids = append(ids, tok.id)
		text = text[pos+len(tok.content):]
	}
	return ids
}

// findAdded returns the first added token in text (the longest one where
// several start at the same place).
func (t *BPE) findAdded(text string, allowSpecial bool) (int, *addedToken) {
	best, bestTok := len(text), (*addedToken)(nil)
	for i := range t.added {
		a := &t.added[i]
		if a.special && !allowSpecial {
			continue
		}
		if p := strings.Index(text[:min(len(text), best+len(a.content))], a.content); p >= 0 && p < best {
			best, bestTok = p, a
		}
	}
	return best, bestTok
}

func (t *BPE) encodeSegment(s string, ids []int) []int {
	if s == "" {
		return ids
	}
	if t.addPrefixSpace && s[0] != ' ' {
		s = " " + s
	}
	if !t.useRegex {
		return t.encodeWord(s, ids)
	}
	for i := 0; i < len(s); {
		j := gpt2Next(s, i)
		ids = t.encodeWord(s[i:j], ids)
		i = j
	}
	return ids
}

// encodeWord appends the ids of one pre-token.
func (t *BPE) encodeWord(w string, ids []int) []int {
	if len(w) == 1 {
		return append(ids, int(t.byteID[w[0]]))
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[bytesToToken([]byte(w))]; ok {
			return append(ids, id)
		}
	}
	cacheable := len(w) <= cacheMaxWord && t.cache != nil
	if cacheable {
		if v, ok := t.cache.get(w); ok {
			for _, id := range v {
				ids = append(ids, int(id))
			}
			return ids
		}
	}
	var symBuf, rankBuf [cacheMaxWord]int32
	var mergedBuf [cacheMaxWord]bool
	var syms []int32
	if len(w) <= cacheMaxWord {
		syms = symBuf[:len(w)]
	} else {
		syms = make([]int32, len(w))
	}
	for i := 0; i < len(w); i++ {
		syms[i] = t.byteID[w[i]]
	}
	switch {
	case len(w) <= cacheMaxWord:
		syms = t.mergeSymbols(syms, rankBuf[:len(w)], mergedBuf[:len(w)])
	case len(w) < longWord:
		syms = t.mergeSymbols(syms, make([]int32, len(w)), make([]bool, len(w)))
	default:
		syms = t.mergeLong(syms)
	}
	if cacheable {
		t.cache.put(w, syms)
	}
	for _, id := range syms {
		ids = append(ids, int(id))
	}
	return ids
}

// noMerge is the rank of a pair that has no merge.
const noMerge = math.MaxInt32

// mergeSymbols applies merges to syms in place as OpenAI's encoder does: find
// the ranked adjacent pair with the lowest rank, replace every occurrence of
// it from left to right (non-overlapping), and repeat. ranks[i] holds the
// rank of the pair (syms[i], syms[i+1]) and is looked up again only where a
// merge changed a neighbour, so a word costs about one map lookup per symbol
// and two per merge. ranks and merged are scratch space of len(syms).
func (t *BPE) mergeSymbols(syms, ranks []int32, merged []bool) []int32 {
	n := len(syms)
	if n < 2 {
		return syms
	}
	for i := 0; i+1 < n; i++ {
		ranks[i] = t.rank(syms[i], syms[i+1])
	}
	ranks[n-1] = noMerge
	for n > 1 {
		best := int32(noMerge)
		bi := -1
		for i, r := range ranks[:n-1] {
			if r < best {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		m, _ := t.merges.get(pairKey(syms[bi], syms[bi+1]))
		id := m.id
		w := 0
		for i := 0; i < n; w++ {
			if i+1 < n && ranks[i] == best {
				syms[w], merged[w] = id, true
				i += 2
			} else {
				syms[w], ranks[w], merged[w] = syms[i], ranks[i], false
				i++
			}
		}
		n = w
		for k := 0; k+1 < n; k++ {
			if merged[k] || merged[k+1] {
				ranks[k] = t.rank(syms[k], syms[k+1])
			}
		}
		ranks[n-1] = noMerge
	}
	return syms[:n]
}

func (t *BPE) rank(a, b int32) int32 {
	if m, ok := t.merges.get(pairKey(a, b)); ok {
		return m.rank
	}
	return noMerge
}

// DecodeBytes returns the bytes that ids stand for. Ids outside the
// vocabulary are skipped. DecodeBytes(Encode(s)) == s for every string s.
func (t *BPE) DecodeBytes(ids []int) []byte {
	n := 0
	for _, id := range ids {
		if id >= 0 && id < len(t.raw) {
			n += len(t.raw[id])
		}
	}
	out := make([]byte, 0, n)
	for _, id := range ids {
		if id >= 0 && id < len(t.raw) {
			out = append(out, t.raw[id]...)
		}
	}
	return out
}

// Decode returns the text that ids stand for. Byte sequences that are not
// valid UTF-8 (a token sequence may end inside a character) become U+FFFD,
// one per maximal invalid subsequence, as Python's
// bytes.decode("utf-8", errors="replace") does in Hugging Face's decoder.
func (t *BPE) Decode(ids []int) string { return toValidUTF8(t.DecodeBytes(ids)) }

// Token returns the vocabulary string of id (for example "Ġthe"), or "" if
// id is not in the vocabulary.
func (t *BPE) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenText returns the text that id stands for (for example " the"), for
// display; bytes that are only part of a character show as U+FFFD.
func (t *BPE) TokenText(id int) string {
	if id < 0 || id >= len(t.raw) {
		return ""
	}
	return toValidUTF8(t.raw[id])
}

// ID returns the id of a vocabulary string.
func (t *BPE) ID(token string) (int, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// VocabSize returns the number of ids: one more than the largest id,
// added tokens included.
func (t *BPE) VocabSize() int { return len(t.tokens) }

// ModelMaxLength returns the model's maximum input length in tokens as
// tokenizer_config.json gives it (model_max_length; 1024 for GPT-2), or 0
// when it does not (no such file, or a BPE not made by LoadBPE).
func (t *BPE) ModelMaxLength() int { return t.maxLen }

// EncodeText returns the model input for text (Tokenizer's method): the ids
// of Encode, or of EncodeAllowSpecial with opt.AllowSpecial, their
// vocabulary strings, type ids 0 and an attention mask of 1s. GPT-2 adds no
// special tokens of its own.
func (t *BPE) EncodeText(text string, opt EncodeOptions) Encoding {
	ids := t.encode(text, opt.AllowSpecial)
	if ids == nil {
		ids = []int{}
	}
	e := Encoding{IDs: ids, TypeIDs: make([]int, len(ids)), AttentionMask: make([]int, len(ids)), Tokens: make([]string, len(ids))}
	for i, id := range ids {
		e.AttentionMask[i] = 1
		e.Tokens[i] = t.Token(id)
	}
	return e
}

// EOS returns the id of "<|endoftext|>", or -1 if the vocabulary lacks it.
func (t *BPE) EOS() int { return t.eos }
