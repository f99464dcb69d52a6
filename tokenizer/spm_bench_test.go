package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spmBenchTexts returns the benchmark texts, one text per line: "kjv" is
// defaults/kjv/heldout.txt (94 chapters of English, 326 kB), "cases" the
// SentencePiece case set (438 lines: scripts, emoji, whitespace runs).
// testdata/spm/bench.py encodes the same lines with python3-sentencepiece.
func spmBenchTexts(b *testing.B) map[string][]string {
	data, err := os.ReadFile(filepath.Join("..", "defaults", "kjv", "heldout.txt"))
	if err != nil {
		b.Fatal(err)
	}
	return map[string][]string{
		"kjv":   strings.Split(strings.TrimRight(string(data), "\n"), "\n"),
		"cases": readSPMLines[string](b, "cases.jsonl"),
	}
}

// BenchmarkSentencePieceEncode measures encoding on one goroutine (MB/s of
// UTF-8 input) with three of the test models: t5 (Unigram, nmt_nfkc), bpe
// (SentencePiece BPE, nmt_nfkc) and unigram-bytes (byte fallback).
func BenchmarkSentencePieceEncode(b *testing.B) {
	texts := spmBenchTexts(b)
	for _, model := range []string{"t5", "bpe", "unigram-bytes"} {
		tok, err := LoadSentencePiece(copyFilesB(b, model+".model"))
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"kjv", "cases"} {
			lines := texts[name]
			n := 0
			for _, l := range lines {
				n += len(l)
			}
			b.Run(model+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					for _, l := range lines {
						tok.proc.Encode(l)
					}
				}
				reportCPUThroughput(b, start, n)
			})
		}
	}
}

// copyFilesB is copyFiles for benchmarks: a directory holding spiece.model.
func copyFilesB(b *testing.B, src string) string {
	data, err := os.ReadFile(filepath.Join(spmDir, src))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SpieceModel), data, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkUnigramJSONEncode measures EncodeText through t5.tokenizer.json
// (Hugging Face's pipeline: the charsmap per grapheme cluster, words
// segmented one by one) on the same texts.
func BenchmarkUnigramJSONEncode(b *testing.B) {
	texts := spmBenchTexts(b)
	data, err := os.ReadFile(filepath.Join(spmDir, "t5.tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := ParseUnigramJSON(data)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"kjv", "cases"} {
		lines := texts[name]
		n := 0
		for _, l := range lines {
			n += len(l)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				for _, l := range lines {
					tok.EncodeText(l, EncodeOptions{})
				}
			}
			reportCPUThroughput(b, start, n)
		})
	}
}
