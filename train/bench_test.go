package train

import (
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// benchStep measures one training step of a random model of the given
// geometry on batch × seq tokens (tokens/s reported).
func benchStep(b *testing.B, cfg gpt2.Config, batch, seq int) {
	m, err := gpt2.Init(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]int32, (batch*seq+1)*4)
	for i := range toks {
		toks[i] = int32(i * 7919 % cfg.VocabSize)
	}
	o := DefaultOptions()
	o.BatchSize, o.SeqLen, o.Steps, o.DataOrder = batch, seq, b.N+1, "sequential"
	tr, err := New(m, toks, nil, o)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tr.Step(); err != nil { // warm the buffers
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch*seq)/b.Elapsed().Seconds(), "tok/s")
}

func BenchmarkStepGPT2Small(b *testing.B) {
	benchStep(b, gpt2.Config{NLayer: 12, NHead: 12, NEmbd: 768, NPositions: 1024, VocabSize: 50257, LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: -1, BOSTokenID: -1}, 2, 128)
}

func BenchmarkStepDefault(b *testing.B) {
	benchStep(b, gpt2.Config{NLayer: 4, NHead: 4, NEmbd: 256, NPositions: 256, VocabSize: 8192, LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: -1, BOSTokenID: -1}, 16, 256)
}

func BenchmarkAdamW(b *testing.B) {
	n := 1 << 24
	p := []gpt2.Param{{Name: "w", Shape: []int{n / 1024, 1024}, Data: make([]float32, n)}}
	g := []gpt2.Param{{Name: "w", Shape: []int{n / 1024, 1024}, Data: make([]float32, n)}}
	for i := range g[0].Data {
		g[0].Data[i] = float32(i%7) * 0.01
	}
	a := NewAdamW(p, DefaultOptions())
	b.SetBytes(int64(n) * 28)
	for i := 0; i < b.N; i++ {
		a.Update(p, g, 1e-3)
	}
}
