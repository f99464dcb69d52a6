package bpetrain

import (
	"bytes"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/tokenizer"
)

// FuzzTrain trains on arbitrary text (invalid UTF-8 included) and checks
// the result: unique vocabulary strings, merges of earlier tokens, a
// tokenizer.json that loads, and decode(encode(text)) == text.
func FuzzTrain(f *testing.F) {
	for _, s := range []string{"", "aaaa aaa aa", "hello world hello", "日本語 日本", "a \nb\t\t c", "\xff\xfe abc\x80", "<|endoftext|> x"} {
		f.Add(s, uint16(300), uint8(0))
	}
	f.Fuzz(func(t *testing.T, text string, size uint16, minFreq uint8) {
		opt := Options{VocabSize: 257 + int(size%512), MinFrequency: int(minFreq % 4), SpecialTokens: []string{tokenizer.EndOfText}}
		c := NewCounter()
		c.AddText(text)
		res, err := TrainCounts(c, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Vocab) > opt.VocabSize {
			t.Fatalf("vocab %d > %d", len(res.Vocab), opt.VocabSize)
		}
		ids := make(map[string]int, len(res.Vocab))
		for id, s := range res.Vocab {
			if _, dup := ids[s]; dup {
				t.Fatalf("token %q twice", s)
			}
			ids[s] = id
		}
		for i, m := range res.Merges {
			l, r, lr := ids[m[0]], ids[m[1]], ids[m[0]+m[1]]
			if m[0] == "" || m[1] == "" || lr <= max(l, r) || lr < 257 {
				t.Fatalf("merge %d %q: ids %d %d → %d", i, m, l, r, lr)
			}
		}
		if want := naiveMerges(c, opt); !slices.Equal(res.Merges, want) {
			t.Fatalf("merges %q, naive %q", res.Merges, want)
		}
		var b bytes.Buffer
		if err := res.writeTokenizerJSON(&b); err != nil {
			t.Fatal(err)
		}
		tok, err := tokenizer.ParseBPEJSON(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		enc := tok.Encode(text)
		if got := tok.DecodeBytes(enc); !bytes.Equal(got, []byte(text)) {
			t.Fatalf("decode(encode(%q)) = %q", text, got)
		}
		// Words encode to at most as many tokens as they have bytes, and
		// the corpus to no more tokens than with no merges at all.
		if len(enc) > len(text) {
			t.Fatalf("%d tokens for %d bytes", len(enc), len(text))
		}
	})
}

// naiveMerges is testdata/bpe_train_ref.py's train in Go: all pairs
// recounted at every step.
func naiveMerges(c *Counter, opt Options) [][2]string {
	vocab := baseVocab(opt.SpecialTokens)
	index := make(map[string]int32)
	for i, s := range vocab {
		index[s] = int32(i)
	}
	var words [][]int32
	var counts []int64
	for w, n := range c.words {
		var ids []int32
		for i := 0; i < len(w); i++ {
			ids = append(ids, index[string(tokenizer.ByteLevelRune(w[i]))])
		}
		words, counts = append(words, ids), append(counts, n)
	}
	var merges [][2]string
	for len(vocab) < opt.VocabSize {
		pairs := map[pair]int64{}
		for k, w := range words {
			for i := 1; i < len(w); i++ {
				pairs[pairOf(w[i-1], w[i])] += counts[k]
			}
		}
		best, bestN := pair(0), int64(0)
		for p, n := range pairs {
			if n > bestN || (n == bestN && p < best) {
				best, bestN = p, n
			}
		}
		if bestN == 0 || bestN < int64(opt.MinFrequency) {
			break
		}
		a, b := split(best)
		s := vocab[a] + vocab[b]
		id, ok := index[s]
		if !ok {
			id = int32(len(vocab))
			vocab = append(vocab, s)
			index[s] = id
		}
		merges = append(merges, [2]string{vocab[a], vocab[b]})
		for k, w := range words {
			var out []int32
			for i := 0; i < len(w); i++ {
				if i+1 < len(w) && w[i] == a && w[i+1] == b {
					out = append(out, id)
					i++
				} else {
					out = append(out, w[i])
				}
			}
			words[k] = out
		}
	}
	return merges
}
