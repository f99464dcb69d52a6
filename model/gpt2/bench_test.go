package gpt2

import (
	"sync"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// gpt2Small is GPT-2 small's shape (124M parameters).
var gpt2Small = Config{NLayer: 12, NHead: 12, NEmbd: 768, NPositions: 1024, VocabSize: 50257, LayerNormEps: 1e-5, Activation: "gelu_new"}

var smallModel = sync.OnceValues(func() (*Model, error) { return Random(gpt2Small, 3, 0.0625) })

// smallInt8 is smallModel's weights quantized to int8 (a model of its own,
// so that float32 and int8 benchmarks can run in one process).
var smallInt8 = sync.OnceValues(func() (*Model, error) {
	m, err := Random(gpt2Small, 3, 0.0625)
	if err == nil {
		err = m.Quantize(Int8)
	}
	return m, err
})

// smallBF16 is smallModel's weights in bf16 (a model of its own).
var smallBF16 = sync.OnceValues(func() (*Model, error) {
	m, err := Random(gpt2Small, 3, 0.0625)
	if err == nil {
		err = m.Quantize(BF16)
	}
	return m, err
})

func benchBF16(b *testing.B) *Model {
	m, err := smallBF16()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchModel(b *testing.B) *Model {
	m, err := smallModel()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchInt8(b *testing.B) *Model {
	m, err := smallInt8()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDecode measures batch-1 greedy decoding of GPT-2 small after a
// 16-token prompt, 128 tokens per iteration (as bench/gpt2.sh does).
func BenchmarkDecode(b *testing.B) { benchDecode(b, benchModel(b)) }

// BenchmarkDecodeInt8 is BenchmarkDecode with int8 weights.
func BenchmarkDecodeInt8(b *testing.B) { benchDecode(b, benchInt8(b)) }

// BenchmarkDecodeBF16 is BenchmarkDecode with bf16 weights.
func BenchmarkDecodeBF16(b *testing.B) { benchDecode(b, benchBF16(b)) }

func benchDecode(b *testing.B, m *Model) {
	const prompt, gen = 16, 128
	s := m.NewState(StateOptions{MaxSeq: prompt + gen})
	ids := make([]int, prompt)
	for i := range ids {
		ids[i] = i * 7919 % m.Config.VocabSize
	}
	tok := [][]int{{0}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		s.Reset()
		if err := s.Forward([][]int{ids}, ForwardOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for range gen {
			tok[0][0] = kernels.Argmax(s.Logits(0))
			if err := s.Forward(tok, ForwardOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(gen*b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkPrefill measures a 512-token prompt (last-position logits only).
func BenchmarkPrefill(b *testing.B) { benchPrefill(b, benchModel(b)) }

// BenchmarkPrefillInt8 is BenchmarkPrefill with int8 weights.
func BenchmarkPrefillInt8(b *testing.B) { benchPrefill(b, benchInt8(b)) }

// BenchmarkPrefillBF16 is BenchmarkPrefill with bf16 weights.
func BenchmarkPrefillBF16(b *testing.B) { benchPrefill(b, benchBF16(b)) }

func benchPrefill(b *testing.B, m *Model) {
	const n = 512
	s := m.NewState(StateOptions{MaxSeq: n})
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i * 7919 % m.Config.VocabSize
	}
	b.ResetTimer()
	for b.Loop() {
		s.Reset()
		if err := s.Forward([][]int{ids}, ForwardOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkDecodeBatch4 decodes four sequences at once: the weights are
// streamed once per step for all of them.
func BenchmarkDecodeBatch4(b *testing.B) {
	m := benchModel(b)
	const B, prompt, gen = 4, 16, 32
	s := m.NewState(StateOptions{Batch: B, MaxSeq: prompt + gen})
	prompts := make([][]int, B)
	for i := range prompts {
		for j := 0; j < prompt; j++ {
			prompts[i] = append(prompts[i], (i*131+j*7919)%m.Config.VocabSize)
		}
	}
	toks := make([][]int, B)
	for i := range toks {
		toks[i] = []int{0}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		s.Reset()
		if err := s.Forward(prompts, ForwardOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for range gen {
			for i := range toks {
				toks[i][0] = kernels.Argmax(s.Logits(i))
			}
			if err := s.Forward(toks, ForwardOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(B*gen*b.N)/b.Elapsed().Seconds(), "tok/s")
}
