package tokenizer

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// mergeNaive is the merge loop of OpenAI's encoder.py, kept as the reference
// for mergeSymbols: every round looks up every adjacent pair.
func (t *BPE) mergeNaive(syms []int32) []int32 {
	syms = append([]int32(nil), syms...)
	for len(syms) > 1 {
		best := bpeMerge{rank: math.MaxInt32}
		var bl, br int32
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := t.merges.get(pairKey(syms[i], syms[i+1])); ok && m.rank < best.rank {
				best, bl, br = m, syms[i], syms[i+1]
			}
		}
		if best.rank == math.MaxInt32 {
			break
		}
		w := 0
		for i := 0; i < len(syms); w++ {
			if i+1 < len(syms) && syms[i] == bl && syms[i+1] == br {
				syms[w] = best.id
				i += 2
			} else {
				syms[w] = syms[i]
				i++
			}
		}
		syms = syms[:w]
	}
	return syms
}

func (t *BPE) byteSyms(w string) []int32 {
	s := make([]int32, len(w))
	for i := range len(w) {
		s[i] = t.byteID[w[i]]
	}
	return s
}

func (t *BPE) mergeFast(w string) []int32 {
	n := len(w)
	return t.mergeSymbols(t.byteSyms(w), make([]int32, n), make([]bool, n))
}

// TestMergeSymbolsMatchesNaive checks the incremental merge loop against the
// naive one on the corpus' pre-tokens and on random words (letters with
// repeats, which exercise overlapping pairs such as "aaa").
func TestMergeSymbolsMatchesNaive(t *testing.T) {
	tok := gpt2(t)
	var words []string
	for _, c := range readJSONLines[goldenBPE](t, "testdata/gpt2/expected.jsonl") {
		words = append(words, PreTokenizeGPT2(c.Text)...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "e", "t", "s", "th", "in", "er", "ing", " ", "é", "\xe2\x82", "0", "!", "'"}
	for range 3000 {
		w := ""
		for range 1 + rng.IntN(40) {
			w += alphabet[rng.IntN(len(alphabet))]
		}
		words = append(words, w)
	}
	for range 200 { // long words for mergeLong
		w := ""
		for range 100 + rng.IntN(400) {
			w += alphabet[rng.IntN(len(alphabet))]
		}
		words = append(words, w)
	}
	words = append(words, strings.Repeat("a", 1000), strings.Repeat("ab", 333), strings.Repeat("é", 99))
	for _, w := range words {
		want := tok.mergeNaive(tok.byteSyms(w))
		if got := tok.mergeFast(w); !reflect.DeepEqual(got, want) {
			t.Fatalf("mergeSymbols(%q) = %v, naive %v", w, got, want)
		}
		if got := tok.mergeLong(tok.byteSyms(w)); !reflect.DeepEqual(got, want) {
			t.Fatalf("mergeLong(%q) = %v, naive %v", w, got, want)
		}
	}
}

// TestMergeLongInconsistentVocab checks mergeLong against the naive loop on
// a vocabulary whose merges are out of training order (a merge's result
// takes part in a better-ranked merge), where a plain heap would differ.
func TestMergeLongInconsistentVocab(t *testing.T) {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[byteRuneUTF8[b]] = b
	}
	vocab["ab"], vocab["xab"], vocab["abab"], vocab["ba"] = 256, 257, 258, 259
	// "x ab" (rank 0) uses "ab", which only exists after "a b" (rank 2).
	tok, err := newBPE(vocab, [][2]string{{"x", "ab"}, {"ab", "ab"}, {"a", "b"}, {"b", "a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		w := ""
		for range 1 + rng.IntN(300) {
			w += []string{"a", "b", "x", "ab", "ba"}[rng.IntN(5)]
		}
		want := tok.mergeNaive(tok.byteSyms(w))
		if got := tok.mergeLong(tok.byteSyms(w)); !reflect.DeepEqual(got, want) {
			t.Fatalf("mergeLong(%q) = %v, naive %v", w, got, want)
		}
		if got := tok.mergeFast(w); !reflect.DeepEqual(got, want) {
			t.Fatalf("mergeSymbols(%q) = %v, naive %v", w, got, want)
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	tok := gpt2(b)
	words := PreTokenizeGPT2(benchText(b, "testdata/english.txt", 1))
	n := 0
	for _, w := range words {
		n += len(w)
	}
	b.Run("incremental", func(b *testing.B) {
		b.SetBytes(int64(n))
		start := cpuTime()
		for b.Loop() {
			for _, w := range words {
				tok.mergeFast(w)
			}
		}
		reportCPUThroughput(b, start, n)
	})
	b.Run("naive", func(b *testing.B) {
		b.SetBytes(int64(n))
		start := cpuTime()
		for b.Loop() {
			for _, w := range words {
				tok.mergeNaive(tok.byteSyms(w))
			}
		}
		reportCPUThroughput(b, start, n)
	})
}
