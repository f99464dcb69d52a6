package sentencepiece

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// handModel builds a model from pieces ("" score/type defaults: NORMAL),
// with piece 0 as <unk>, no charsmap, no dummy prefix and no whitespace
// handling, so that the segmentation alone is tested.
func handModel(t *testing.T, typ ModelType, pieces ...Piece) *Processor {
	t.Helper()
	m := &Model{Trainer: defaultTrainerSpec(), Normalizer: NormalizerSpec{EscapeWhitespaces: true}}
	m.Trainer.ModelType = typ
	m.Pieces = append([]Piece{{Piece: "<unk>", Type: Unknown}}, pieces...)
	for i := range m.Pieces {
		if m.Pieces[i].Type == 0 {
			m.Pieces[i].Type = Normal
		}
	}
	p, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pieces(toks []Token) []string {
	var out []string
	for _, t := range toks {
		out = append(out, t.Piece)
	}
	return out
}

// TestSegmentationRules checks rules that the trained models rarely
// exercise, with expectations worked out by hand from sentencepiece's
// unigram_model.cc and bpe_model.cc, and confirmed with python3-sentencepiece
// on the same models (testdata/spm/hand_models.py).
func TestSegmentationRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *Processor
		text string
		want []string
	}{
		{
			// Equal scores: the leftmost pair merges first.
			"bpe tie", handModel(t, ModelBPE, Piece{Piece: "a"}, Piece{Piece: "b"}, Piece{Piece: "c"},
				Piece{Piece: "ab", Score: -1}, Piece{Piece: "bc", Score: -1}),
			"abc", []string{"ab", "c"},
		},
		{
			"bpe higher score first", handModel(t, ModelBPE, Piece{Piece: "a"}, Piece{Piece: "b"}, Piece{Piece: "c"},
				Piece{Piece: "ab", Score: -2}, Piece{Piece: "bc", Score: -1}),
			"abc", []string{"a", "bc"},
		},
		{
			// An UNUSED piece may be merged through but is split back.
			"bpe unused resegmented", handModel(t, ModelBPE, Piece{Piece: "a"}, Piece{Piece: "b"}, Piece{Piece: "d"},
				Piece{Piece: "ab", Type: Unused}),
			"abd", []string{"a", "b", "d"},
		},
		{
			"bpe unused merged through", handModel(t, ModelBPE, Piece{Piece: "a"}, Piece{Piece: "b"}, Piece{Piece: "c"},
				Piece{Piece: "ab", Type: Unused}, Piece{Piece: "abc", Score: -1}),
			"abc", []string{"abc"},
		},
		{
			// User-defined symbols are never merged with neighbours.
			"bpe user-defined frozen", handModel(t, ModelBPE, Piece{Piece: "a"}, Piece{Piece: "b"},
				Piece{Piece: "ab", Score: -1}, Piece{Piece: "<x>", Type: UserDefined}),
			"a<x>bab", []string{"a", "<x>", "b", "ab"},
		},
		{
			// Path scores: cd+e = -10; <unk>(c)+de = min-10-1 = -16.
			"unigram unknown penalty", handModel(t, ModelUnigram, Piece{Piece: "cd", Score: -5}, Piece{Piece: "e", Score: -5},
				Piece{Piece: "de", Score: -1}),
			"cde", []string{"cd", "e"},
		},
		{
			// A user-defined piece scores length*max-0.1 and wins.
			"unigram user-defined", handModel(t, ModelUnigram, Piece{Piece: "ab", Score: -0.5}, Piece{Piece: "c", Score: -0.5},
				Piece{Piece: "abc", Type: UserDefined}),
			"abcab", []string{"abc", "ab"},
		},
		{
			"unigram unused skipped", handModel(t, ModelUnigram, Piece{Piece: "a", Score: -3}, Piece{Piece: "b", Score: -3},
				Piece{Piece: "ab", Score: -0.1, Type: Unused}),
			"ab", []string{"a", "b"},
		},
		{
			// A text that is both a NORMAL and a CONTROL piece: the lattice
			// uses the NORMAL one.
			"unigram shadowed by a control piece", handModel(t, ModelUnigram, Piece{Piece: "a"}, Piece{Piece: "b"},
				Piece{Piece: "ab", Score: -1}, Piece{Piece: "ab", Type: Control}, Piece{Piece: "c", Score: -1}, Piece{Piece: "c", Type: Control}),
			"abc", []string{"a", "b", "c"},
		},
		{
			// BPE resolves the merged symbol reserved-first, gets a
			// control piece, and sentencepiece's Encode fails: nothing.
			"bpe shadowed by a control piece", handModel(t, ModelBPE, Piece{Piece: "a"}, Piece{Piece: "b"},
				Piece{Piece: "ab", Score: -1}, Piece{Piece: "ab", Type: Control}, Piece{Piece: "c", Score: -1}, Piece{Piece: "c", Type: Control}),
			"abc", nil,
		},
		{
			// Runs of unknown characters become one piece.
			"unknown run merged", handModel(t, ModelUnigram, Piece{Piece: "a", Score: -1}),
			"axyza", []string{"a", "xyz", "a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pieces(tc.p.Encode(tc.text)); !slices.Equal(got, tc.want) {
				t.Errorf("Encode(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// TestDecodeBytes checks byte pieces, control pieces and <unk> in Decode.
func TestDecodeBytes(t *testing.T) {
	p, err := Load(filepath.Join(spmTestdata, "unigram-bytes.model"))
	if err != nil {
		t.Fatal(err)
	}
	id := p.PieceToID
	for _, tc := range []struct {
		ids  []int
		want string
	}{
		{[]int{id("<0xE2>"), id("<0x82>"), id("<0xAC>")}, "€"},
		{[]int{id("<0xFF>"), id("<0x41>")}, "\uFFFDA"},
		{[]int{id("<0xE2>"), id("<0x82>"), id("▁the")}, "\uFFFD\uFFFD the"},
		{[]int{p.BosID(), id("▁the"), p.EosID()}, "the"},
		{[]int{id("▁the"), p.UnkID(), id("▁the")}, "the ⁇  the"},
		{[]int{-1, id("▁the"), 1 << 30}, "the"},
	} {
		if got := p.Decode(tc.ids); got != tc.want {
			t.Errorf("Decode(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

// TestBPEMergeStrategies checks that the shortcuts of the BPE encoder give
// sentencepiece's result: merging word by word (rather than the whole
// text), scanning short words (rather than using the heap) and the word
// cache, on random texts over the letters of the bpe test model.
func TestBPEMergeStrategies(t *testing.T) {
	p, err := Load(filepath.Join(spmTestdata, "bpe.model"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.bpe.byWord {
		t.Fatal("bpe.model: byWord is false, want true (no piece holds ▁ inside)")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "e", "t", "h", "n", "s", "o", "r", "d", "l", " ", " ", "T", "é", "東", "😀"}
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for n := rnd.IntN(80); n > 0; n-- {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		text := b.String()
		want := p.EncodeIDs(text)
		cached := p.EncodeIDs(text) // from the word cache
		cache := p.bpe.cache
		p.bpe.cache = nil
		p.bpe.byWord = false
		whole := p.EncodeIDs(text)
		p.bpe.byWord = true
		smallWord = 0
		heap := p.EncodeIDs(text)
		smallWord = maxSmallWord
		p.bpe.cache = cache
		if !slices.Equal(whole, want) || !slices.Equal(heap, want) || !slices.Equal(cached, want) {
			t.Fatalf("%q: per word, small by scan %v; cached %v; whole text %v; heap only %v", text, want, cached, whole, heap)
		}
	}
}
