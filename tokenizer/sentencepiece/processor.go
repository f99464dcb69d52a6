package sentencepiece

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// Token is one piece of an encoding: its id and its vocabulary string (for
// a run of unknown characters, the normalized text it covers).
type Token struct {
	ID    int
	Piece string
}

// Processor encodes text to pieces and ids and decodes ids back, as
// sentencepiece's SentencePieceProcessor does. It is safe for concurrent
// use.
type Processor struct {
	model   *Model
	norm    *normalizer
	denorm  *normalizer // nil: none
	uni     *unigram    // one of uni, bpe
	bpe     *bpe
	trie    *trie            // NORMAL, USER_DEFINED, UNUSED pieces
	pieceID map[string]int32 // every piece
	byteIDs [256]int32       // id of <0xNN>, when byte fallback is on
	unkID   int32
	pool    sync.Pool // *scratch
}

// Load reads a SentencePiece model file (spiece.model, source.spm, ...).
func Load(path string) (*Processor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %w", err)
	}
	m, err := ParseModel(data)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %s: %w", path, err)
	}
	p, err := New(m)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %s: %w", path, err)
	}
	return p, nil
}

// New builds a Processor for m, checking it as sentencepiece does: no empty
// or repeated piece, exactly one UNKNOWN piece, byte pieces only with
// byte_fallback and then all 256 of them, a Unigram or BPE model.
func New(m *Model) (*Processor, error) {
	if len(m.Pieces) == 0 {
		return nil, fmt.Errorf("model has no pieces")
	}
	if m.Trainer.ModelType != ModelUnigram && m.Trainer.ModelType != ModelBPE {
		return nil, fmt.Errorf("trainer_spec.model_type %v not supported (want UNIGRAM or BPE)", m.Trainer.ModelType)
	}
	p := &Processor{model: m, pieceID: make(map[string]int32, len(m.Pieces)), unkID: -1}
	var keys, users []string
	var vals, userVals []int32
	var byteFound [256]bool
	// As in sentencepiece, NORMAL, USER_DEFINED and UNUSED pieces and the
	// other (reserved) pieces are two maps, each without repeats; a text in
	// both maps to the reserved id.
	normal := make(map[string]bool, len(m.Pieces))
	reserved := map[string]bool{}
	for i, pc := range m.Pieces {
		if pc.Piece == "" {
			return nil, fmt.Errorf("pieces[%d]: empty piece", i)
		}
		isNormal := pc.Type == Normal || pc.Type == UserDefined || pc.Type == Unused
		seen := reserved
		if isNormal {
			seen = normal
		}
		if seen[pc.Piece] {
			return nil, fmt.Errorf("pieces[%d]: %q is already defined", i, pc.Piece)
		}
		seen[pc.Piece] = true
		if _, ok := p.pieceID[pc.Piece]; !ok || !isNormal {
			p.pieceID[pc.Piece] = int32(i)
		}
		switch pc.Type {
		case Normal, UserDefined, Unused:
			keys = append(keys, pc.Piece)
			vals = append(vals, int32(i))
			if pc.Type == UserDefined {
				users = append(users, pc.Piece)
				userVals = append(userVals, int32(i))
			}
		case Unknown:
			if p.unkID >= 0 {
				return nil, fmt.Errorf("pieces[%d]: a second UNKNOWN piece %q (unk is already defined)", i, pc.Piece)
			}
			p.unkID = int32(i)
		case Byte:
			if !m.Trainer.ByteFallback {
				return nil, fmt.Errorf("pieces[%d]: byte piece %q although trainer_spec.byte_fallback is false", i, pc.Piece)
			}
			b := pieceToByte(pc.Piece)
			if b < 0 {
				return nil, fmt.Errorf("pieces[%d]: byte piece %q is invalid", i, pc.Piece)
			}
			byteFound[b] = true
			p.byteIDs[b] = int32(i)
		case Control:
		default:
			return nil, fmt.Errorf("pieces[%d]: unknown type %v", i, pc.Type)
		}
	}
	if p.unkID < 0 {
		return nil, fmt.Errorf("no UNKNOWN piece (unk is not defined)")
	}
	if m.Trainer.ByteFallback {
		for b, ok := range byteFound {
			if !ok {
				return nil, fmt.Errorf("trainer_spec.byte_fallback is true but there is no byte piece <0x%02X>", b)
			}
		}
	}
	n, err := newNormalizer(&m.Normalizer, m.Trainer.TreatWhitespaceAsSuffix)
	if err != nil {
		return nil, fmt.Errorf("normalizer_spec.%w", err)
	}
	if len(users) > 0 {
		n.user = newTrie(users, userVals)
	}
	n.setPlain()
	p.norm = n
	if d := m.Denormalizer; d != nil && len(d.PrecompiledCharsmap) > 0 {
		if p.denorm, err = newNormalizer(d, false); err != nil {
			return nil, fmt.Errorf("denormalizer_spec.%w", err)
		}
		p.denorm.setPlain()
	}
	p.trie = newTrie(keys, vals)
	switch m.Trainer.ModelType {
	case ModelUnigram:
		p.uni = newUnigram(m.Pieces, p.trie, p.unkID)
	case ModelBPE:
		b := &bpe{trie: p.trie, unkID: p.unkID, user: n.user, byWord: true}
		for k := range reserved {
			// A final symbol is resolved reserved-first (PieceToId), which
			// the trie shortcut would miss.
			b.shadowed = b.shadowed || normal[k]
		}
		for _, k := range keys {
			if len(k) > 1 && strings.Contains(k[1:], spaceSymbol) {
				b.byWord = false
			}
		}
		if b.byWord {
			b.cache = newWordCache()
		}
		b.scores = make([]float32, len(m.Pieces))
		b.types = make([]PieceType, len(m.Pieces))
		for i, pc := range m.Pieces {
			b.scores[i], b.types[i] = pc.Score, pc.Type
		}
		p.bpe = b
	}
	return p, nil
}

// pieceToByte parses "<0xNN>" (upper-case hex, as sentencepiece writes it)
// and returns the byte, or -1.
func pieceToByte(s string) int {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return -1
	}
	v := 0
	for _, c := range []byte(s[3:5]) {
		switch {
		case '0' <= c && c <= '9':
			v = v*16 + int(c-'0')
		case 'A' <= c && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}

// Model returns the model the processor was built from.
func (p *Processor) Model() *Model { return p.model }

// VocabSize returns the number of pieces.
func (p *Processor) VocabSize() int { return len(p.model.Pieces) }

// IDToPiece returns the piece of id, or "" when id is out of range.
func (p *Processor) IDToPiece(id int) string {
	if id < 0 || id >= len(p.model.Pieces) {
		return ""
	}
	return p.model.Pieces[id].Piece
}

// PieceToID returns the id of piece, or the unknown id when it is not in
// the vocabulary.
func (p *Processor) PieceToID(piece string) int {
	if id, ok := p.pieceID[piece]; ok {
		return int(id)
	}
	return int(p.unkID)
}

// Type returns the type of id's piece (0 when out of range).
func (p *Processor) Type(id int) PieceType {
	if id < 0 || id >= len(p.model.Pieces) {
		return 0
	}
	return p.model.Pieces[id].Type
}

// UnkID returns the id of the UNKNOWN piece.
func (p *Processor) UnkID() int { return int(p.unkID) }

// BosID, EosID and PadID return the ids of <s>, </s> and <pad> as the
// trainer spec gives them, or -1 when the model has none.
func (p *Processor) BosID() int { return p.reserved(p.model.Trainer.BosID, p.model.Trainer.BosPiece) }

// EosID returns the id of </s>, or -1.
func (p *Processor) EosID() int { return p.reserved(p.model.Trainer.EosID, p.model.Trainer.EosPiece) }

// PadID returns the id of <pad>, or -1.
func (p *Processor) PadID() int { return p.reserved(p.model.Trainer.PadID, p.model.Trainer.PadPiece) }

func (p *Processor) reserved(id int32, piece string) int {
	if id < 0 || int(id) >= len(p.model.Pieces) {
		if i, ok := p.pieceID[piece]; ok && p.model.Pieces[i].Type == Control {
			return int(i)
		}
		return -1
	}
	return int(id)
}

// Normalize returns text as the model's normalizer rewrites it (with ▁ for
// spaces and the dummy prefix, when the spec asks for them).
func (p *Processor) Normalize(text string) string { return p.norm.normalize(text) }

// lookup is PieceToId as the models use it: -1 never, unk for unknown.
func (p *Processor) lookup(w string) int32 {
	if id, ok := p.pieceID[w]; ok {
		return id
	}
	return p.unkID
}

// scratch holds the buffers of one encode call, reused through a pool.
type scratch struct {
	best  []bestNode
	spans []span
}

// segment appends the model's segmentation of normalized text to sc.spans.
func (p *Processor) segment(norm string, sc *scratch) {
	out := sc.spans[:0]
	if p.bpe != nil {
		sc.spans = p.bpe.encode(norm, out, p.lookup)
		return
	}
	sc.spans, sc.best = p.uni.encode(norm, out, sc.best)
}

// Encode returns the pieces of text: normalized, segmented, runs of unknown
// pieces merged into one (or, with byte fallback, each unknown character
// written as its UTF-8 bytes <0xNN>). Control pieces such as </s> are never
// produced; callers add them.
func (p *Processor) Encode(text string) []Token {
	return p.EncodeNormalized(p.norm.normalize(text))
}

// EncodeNormalized is Encode for text that is already normalized (spaces
// written as ▁): the segmentation, with unknown pieces merged or written
// as bytes. Hugging Face's pipelines (package tokenizer) normalize in
// their own way and segment through it.
func (p *Processor) EncodeNormalized(norm string) []Token {
	return p.AppendNormalized(nil, norm)
}

// AppendNormalized appends the tokens of EncodeNormalized(norm) to toks.
func (p *Processor) AppendNormalized(toks []Token, norm string) []Token {
	sc, _ := p.pool.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer p.pool.Put(sc)
	p.segment(norm, sc)
	spans := sc.spans
	if toks == nil {
		toks = make([]Token, 0, len(spans))
	}
	n0 := len(toks)
	prevUnk := false
	fallback := p.model.Trainer.ByteFallback
	for _, s := range spans {
		w := norm[s.begin:s.end]
		if p.model.Pieces[s.id].Type == Control {
			// Only a BPE symbol whose text is also a control piece gets
			// here; sentencepiece then fails its consumed-text check and
			// returns nothing.
			return toks[:n0]
		}
		unk := s.id == p.unkID
		switch {
		case unk && fallback:
			for i := 0; i < len(w); i++ {
				b := w[i]
				toks = append(toks, Token{ID: int(p.byteIDs[b]), Piece: p.model.Pieces[p.byteIDs[b]].Piece})
			}
		case unk && prevUnk && len(toks) > n0:
			toks[len(toks)-1].Piece += w
		case unk:
			toks = append(toks, Token{ID: int(s.id), Piece: w})
		default:
			toks = append(toks, Token{ID: int(s.id), Piece: p.model.Pieces[s.id].Piece})
		}
		prevUnk = unk
	}
	return toks
}

// EncodeIDs returns the ids of Encode(text).
func (p *Processor) EncodeIDs(text string) []int {
	toks := p.Encode(text)
	ids := make([]int, len(toks))
	for i, t := range toks {
		ids[i] = t.ID
	}
	return ids
}

// Decode returns the text of ids as sentencepiece's DecodeIds does: control
// pieces dropped, <unk> written as the unk surface (" ⁇ "), runs of byte
// pieces decoded as UTF-8 (U+FFFD for each invalid byte), ▁ written as a
// space, and the leading space the dummy prefix added removed. Ids out of
// range are skipped.
func (p *Processor) Decode(ids []int) string {
	pieces := make([]string, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < len(p.model.Pieces) {
			pieces = append(pieces, p.model.Pieces[id].Piece)
		}
	}
	return p.DecodePieces(pieces)
}

// DecodePieces returns the text of pieces as sentencepiece's DecodePieces
// does (see Decode); a piece that is not in the vocabulary is written as it
// is.
func (p *Processor) DecodePieces(pieces []string) string {
	var text strings.Builder
	var bytes []byte
	flush := func() {
		for len(bytes) > 0 {
			r, size := utf8.DecodeRune(bytes)
			if r == utf8.RuneError && size <= 1 {
				text.WriteString("\uFFFD")
				size = 1
			} else {
				text.Write(bytes[:size])
			}
			bytes = bytes[size:]
		}
	}
	ns := &p.model.Normalizer
	bosWS, bosWSSeen := true, false
	for _, piece := range pieces {
		id := p.lookup(piece)
		typ := p.model.Pieces[id].Type
		if typ == Byte {
			bytes = append(bytes, byte(pieceToByte(piece)))
			continue
		}
		flush()
		if bosWSSeen || text.Len() > 0 {
			bosWS = false
		}
		bosWSSeen = false
		switch typ {
		case Control:
			continue
		case Unknown:
			if p.model.Pieces[id].Piece == piece {
				text.WriteString(p.model.Trainer.UnkSurface)
			} else {
				text.WriteString(piece)
			}
			continue
		}
		if bosWS && (ns.AddDummyPrefix || ns.RemoveExtraWhitespaces) {
			if strings.HasPrefix(piece, spaceSymbol) {
				piece = piece[len(spaceSymbol):]
				bosWSSeen = !ns.RemoveExtraWhitespaces
			}
		}
		text.WriteString(strings.ReplaceAll(piece, spaceSymbol, " "))
	}
	flush()
	if p.denorm != nil {
		return p.denorm.normalize(text.String())
	}
	return text.String()
}
