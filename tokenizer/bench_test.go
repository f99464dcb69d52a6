package tokenizer

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// benchText returns about n bytes of text made by repeating the file at path.
func benchText(b *testing.B, path string, n int) string {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Skip(err)
	}
	return strings.Repeat(string(data), max(n/len(data), 1))
}

func corpusText(b *testing.B, filter func(string) bool) string {
	var sb strings.Builder
	for _, c := range readJSONLines[goldenBPE](b, "testdata/gpt2/expected.jsonl") {
		if filter(c.Text) {
			sb.WriteString(c.Text)
			sb.WriteString("\n")
		}
	}
	return strings.Repeat(sb.String(), max(1<<20/max(sb.Len(), 1), 1))
}

func benchEncode(b *testing.B, tok *BPE, text string) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	n := 0
	start := cpuTime()
	for b.Loop() {
		n = len(tok.Encode(text))
	}
	reportCPUThroughput(b, start, len(text))
	b.ReportMetric(float64(len(text))/float64(n), "bytes/token")
}

// BenchmarkBPEEncode measures GPT-2 encoding on one goroutine (MB/s).
//   - english: testdata/english.txt repeated to 1 MB (the word cache warm,
//     as it is for English after the first few kilobytes);
//   - english-nocache: the same with the word cache off (every word merged);
//   - gpl3: /usr/share/common-licenses/GPL-3 (35 kB of legal English), if present;
//   - code, multilingual: the code and non-Latin strings of the golden corpus;
//   - longword: 100 kB of random letters, a single pre-token (the worst case).
func BenchmarkBPEEncode(b *testing.B) {
	tok := gpt2(b)
	b.Run("english", func(b *testing.B) { benchEncode(b, tok, benchText(b, "testdata/english.txt", 1<<20)) })
	b.Run("english-nocache", func(b *testing.B) {
		cold := *tok
		cold.cache = nil
		benchEncode(b, &cold, benchText(b, "testdata/english.txt", 1<<20))
	})
	b.Run("gpl3", func(b *testing.B) { benchEncode(b, tok, benchText(b, "/usr/share/common-licenses/GPL-3", 1)) })
	b.Run("code", func(b *testing.B) {
		benchEncode(b, tok, corpusText(b, func(s string) bool { return strings.ContainsAny(s, "{}();=") }))
	})
	b.Run("longword", func(b *testing.B) {
		// 100 kB of random lowercase letters: one pre-token, merged by mergeLong.
		r := rand.New(rand.NewPCG(1, 1))
		w := make([]byte, 100_000)
		for i := range w {
			w[i] = byte('a' + r.IntN(26))
		}
		benchEncode(b, tok, string(w))
	})
	b.Run("multilingual", func(b *testing.B) {
		benchEncode(b, tok, corpusText(b, func(s string) bool { return !isPlainASCII(s) }))
	})
}

func BenchmarkBPEDecode(b *testing.B) {
	tok := gpt2(b)
	text := benchText(b, "testdata/english.txt", 1<<20)
	ids := tok.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Decode(ids)
	}
}

// BenchmarkWordPieceEncode measures BERT encoding of English (MB/s).
func BenchmarkWordPieceEncode(b *testing.B) {
	tok := bert(b)
	text := benchText(b, "testdata/english.txt", 1<<20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		tok.TokenIDs(text)
	}
	reportCPUThroughput(b, start, len(text))
}

func BenchmarkPreTokenizeGPT2(b *testing.B) {
	text := benchText(b, "testdata/english.txt", 1<<20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for i := 0; i < len(text); i = gpt2Next(text, i) {
			n++
		}
	}
}
