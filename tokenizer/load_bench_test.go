package tokenizer

import "testing"

func BenchmarkLoadBPE(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadBPE("testdata/gpt2"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadWordPiece(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadWordPiece("testdata/bert-base-uncased"); err != nil {
			b.Fatal(err)
		}
	}
}
