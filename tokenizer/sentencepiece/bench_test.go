package sentencepiece

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkEncode measures Encode on defaults/kjv/heldout.txt, one chapter
// per call, for a Unigram and a BPE model (see also the tokenizer
// package's BenchmarkSentencePieceEncode, which compares with Python).
func BenchmarkEncode(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "defaults", "kjv", "heldout.txt"))
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for _, name := range []string{"t5", "bpe"} {
		p, err := Load(filepath.Join(spmTestdata, name+".model"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for _, l := range lines {
					p.Encode(l)
				}
			}
		})
	}
}
