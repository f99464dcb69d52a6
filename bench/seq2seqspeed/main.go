// Command seq2seqspeed measures loupe's encoder-decoder decoding speed at
// the opus-mt-en-de geometry (-model marian, the default: d_model 512, 6+6
// layers, 8 heads, ffn 2048, swish, vocabulary 58101 shared, sinusoidal
// positions; bart.Random, seed 7: the same values as
// model/bart/testdata/reference.py builds) or the t5-small geometry
// (-model t5: d_model 512, d_kv 64, 8 heads, 6+6 layers, d_ff 2048, relu,
// vocabulary 32128, tied head; t5.Random, seed 7, as
// model/t5/testdata/reference.py builds), random weights:
//
//	GOMAXPROCS=1 go run ./bench/seq2seqspeed [-model marian|t5] [-src-len 64] [-new-tokens 64] [-reps 3]
//
// It encodes one source of src-len tokens, then decodes new-tokens tokens
// greedily (batch 1, EOS ignored) with the model's Decoder, and prints JSON: the
// best decode and encode speeds over reps runs (tokens per second; the
// decode time excludes the encoder) and the greedy ids. Threads are
// GOMAXPROCS. bench/seq2seq.sh runs it next to PyTorch.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/t5"
)

const opusConfig = `{"model_type":"marian","architectures":["MarianMTModel"],"d_model":512,
"encoder_layers":6,"decoder_layers":6,"encoder_attention_heads":8,"decoder_attention_heads":8,
"encoder_ffn_dim":2048,"decoder_ffn_dim":2048,"max_position_embeddings":512,"vocab_size":58101,
"decoder_vocab_size":58101,"activation_function":"swish","scale_embedding":true,
"share_encoder_decoder_embeddings":true,"static_position_embeddings":true,
"pad_token_id":58100,"bos_token_id":0,"eos_token_id":0,"decoder_start_token_id":58100,"forced_eos_token_id":0}`

const t5SmallConfig = `{"model_type":"t5","architectures":["T5ForConditionalGeneration"],"d_model":512,"d_kv":64,
"d_ff":2048,"num_layers":6,"num_decoder_layers":6,"num_heads":8,"relative_attention_num_buckets":32,
"relative_attention_max_distance":128,"layer_norm_epsilon":1e-6,"feed_forward_proj":"relu",
"tie_word_embeddings":true,"vocab_size":32128,"pad_token_id":0,"eos_token_id":1,"decoder_start_token_id":0}`

// seq2seq is what the benchmark needs of a model: bart and t5 both offer it.
type seq2seq struct {
	vocab, start int
	// newDecoder encodes src and returns a decoder for it: forward feeds
	// one step, logits reads row 0's.
	newDecoder func(src []int, maxLen int) (forward func([][]int) error, logits func() []float32, err error)
}

func load(name string) (seq2seq, error) {
	switch name {
	case "marian":
		cfg, err := bart.ParseConfig([]byte(opusConfig))
		if err != nil {
			return seq2seq{}, err
		}
		m, err := bart.Random(cfg, 7)
		if err != nil {
			return seq2seq{}, err
		}
		return seq2seq{cfg.VocabSize, cfg.DecoderStartTokenID, func(src []int, n int) (func([][]int) error, func() []float32, error) {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				return nil, nil, err
			}
			d, err := m.NewDecoderFor(enc, bart.DecoderOptions{MaxLen: n})
			if err != nil {
				return nil, nil, err
			}
			return d.Forward, func() []float32 { return d.Logits(0) }, nil
		}}, nil
	case "t5":
		cfg, err := t5.ParseConfig([]byte(t5SmallConfig))
		if err != nil {
			return seq2seq{}, err
		}
		m, err := t5.Random(cfg, 7)
		if err != nil {
			return seq2seq{}, err
		}
		return seq2seq{cfg.VocabSize, cfg.DecoderStartTokenID, func(src []int, n int) (func([][]int) error, func() []float32, error) {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				return nil, nil, err
			}
			d, err := m.NewDecoderFor(enc, t5.DecoderOptions{MaxLen: n})
			if err != nil {
				return nil, nil, err
			}
			return d.Forward, func() []float32 { return d.Logits(0) }, nil
		}}, nil
	}
	return seq2seq{}, fmt.Errorf("-model %q: want marian or t5", name)
}

func main() {
	model := flag.String("model", "marian", "geometry: marian (opus-mt-en-de) or t5 (t5-small)")
	srcLen := flag.Int("src-len", 64, "source tokens")
	newTokens := flag.Int("new-tokens", 64, "target tokens decoded greedily")
	reps := flag.Int("reps", 3, "runs (the best is kept)")
	flag.Parse()
	if err := run(*model, *srcLen, *newTokens, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "seq2seqspeed:", err)
		os.Exit(1)
	}
}

func run(model string, srcLen, newTokens, reps int) error {
	m, err := load(model)
	if err != nil {
		return err
	}
	// The reference's ids_for(n, vocab, 1).
	src := make([]int, srcLen)
	for i := range src {
		src[i] = (i*7919+104729+3)%(m.vocab-3) + 3
	}
	var bestDec, bestEnc float64
	var ids []int
	for range reps {
		t0 := time.Now()
		forward, logits, err := m.newDecoder(src, newTokens)
		if err != nil {
			return err
		}
		t1 := time.Now()
		tok := m.start
		step := [][]int{{0}}
		ids = ids[:0]
		for range newTokens {
			step[0][0] = tok
			if err := forward(step); err != nil {
				return err
			}
			tok = kernels.Argmax(logits())
			ids = append(ids, tok)
		}
		t2 := time.Now()
		bestDec = max(bestDec, float64(newTokens)/t2.Sub(t1).Seconds())
		bestEnc = max(bestEnc, float64(srcLen)/t1.Sub(t0).Seconds())
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"model": model, "threads": runtime.GOMAXPROCS(0), "kernels": kernels.Impl(),
		"decode_tok_s": bestDec, "encode_tok_s": bestEnc, "greedy_ids": ids,
	})
}
