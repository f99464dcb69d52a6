package word2vec

import (
	"context"
	"os"
	"testing"
)

// BenchmarkTrainSG trains skip-gram on the corpus named by
// LOUPE_W2V_CORPUS (skipped when unset), one epoch, one thread.
func BenchmarkTrainSG(b *testing.B) {
	path := os.Getenv("LOUPE_W2V_CORPUS")
	if path == "" {
		b.Skip("LOUPE_W2V_CORPUS not set")
	}
	for i := 0; i < b.N; i++ {
		_, st, err := Train(context.Background(), func() Options {
			o := DefaultOptions(path)
			o.SkipGram, o.Epochs, o.Threads = true, 1, 1
			return o
		}())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(st.WordsPerSecond, "words/s")
	}
}
