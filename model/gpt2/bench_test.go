package gpt2

import (
	"sync"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// gpt2Small is GPT-2 small's shape (124M parameters).
var gpt2Small = Config{NLayer: 12, NHead: 12, NEmbd: 768, NPositions: 1024, VocabSize: 50257, LayerNormEps: 1e-5, Activation: "gelu_new"}

var smallModel = sync.OnceValues(func() (*Model, error) { return Random(gpt2Small, 3, 0.0625) })

// smallQuantized holds smallModel's weights quantized to each precision,
// each a model of its own, so that float32 and quantized benchmarks can
// run in one process.
var smallQuantized = map[string]func() (*Model, error){
	Int8: quantizedSmall(Int8),
	BF16: quantizedSmall(BF16),
	F16:  quantizedSmall(F16),
}

func quantizedSmall(precision string) func() (*Model, error) {
	return sync.OnceValues(func() (*Model, error) {
		m, err := Random(gpt2Small, 3, 0.0625)
		if err == nil {
			err = m.Quantize(precision)
		}
		return m, err
	})
}

// benchQuantized is GPT-2 small with weights in precision (int8, bf16 or
// f16).
func benchQuantized(b *testing.B, precision string) *Model {
	m, err := smallQuantized[precision]()
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

// BenchmarkDecode measures batch-1 greedy decoding of GPT-2 small after a
// 16-token prompt, 128 tokens per iteration (as bench/gpt2.sh does).
func BenchmarkDecode(b *testing.B) { benchDecode(b, benchModel(b)) }

// BenchmarkDecodeInt8 is BenchmarkDecode with int8 weights.
func BenchmarkDecodeInt8(b *testing.B) { benchDecode(b, benchQuantized(b, Int8)) }

// BenchmarkDecodeBF16 is BenchmarkDecode with bf16 weights.
func BenchmarkDecodeBF16(b *testing.B) { benchDecode(b, benchQuantized(b, BF16)) }

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
func BenchmarkPrefillInt8(b *testing.B) { benchPrefill(b, benchQuantized(b, Int8)) }

// BenchmarkPrefillBF16 is BenchmarkPrefill with bf16 weights.
func BenchmarkPrefillBF16(b *testing.B) { benchPrefill(b, benchQuantized(b, BF16)) }

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
