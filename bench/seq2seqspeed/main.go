// Command seq2seqspeed measures loupe's encoder-decoder decoding speed at
// the opus-mt-en-de geometry (Marian: d_model 512, 6+6 layers, 8 heads,
// ffn 2048, swish, vocabulary 58101 shared, sinusoidal positions), random
// weights (bart.Random, seed 7: the same values as
// model/bart/testdata/reference.py builds):
//
//	GOMAXPROCS=1 go run ./bench/seq2seqspeed [-src-len 64] [-new-tokens 64] [-reps 3]
//
// It encodes one source of src-len tokens, then decodes new-tokens tokens
// greedily (batch 1, EOS ignored) with a bart.Decoder, and prints JSON: the
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
)

const opusConfig = `{"model_type":"marian","architectures":["MarianMTModel"],"d_model":512,
"encoder_layers":6,"decoder_layers":6,"encoder_attention_heads":8,"decoder_attention_heads":8,
"encoder_ffn_dim":2048,"decoder_ffn_dim":2048,"max_position_embeddings":512,"vocab_size":58101,
"decoder_vocab_size":58101,"activation_function":"swish","scale_embedding":true,
"share_encoder_decoder_embeddings":true,"static_position_embeddings":true,
"pad_token_id":58100,"bos_token_id":0,"eos_token_id":0,"decoder_start_token_id":58100,"forced_eos_token_id":0}`

func main() {
	srcLen := flag.Int("src-len", 64, "source tokens")
	newTokens := flag.Int("new-tokens", 64, "target tokens decoded greedily")
	reps := flag.Int("reps", 3, "runs (the best is kept)")
	flag.Parse()
	if err := run(*srcLen, *newTokens, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "seq2seqspeed:", err)
		os.Exit(1)
	}
}

func run(srcLen, newTokens, reps int) error {
	cfg, err := bart.ParseConfig([]byte(opusConfig))
	if err != nil {
		return err
	}
	m, err := bart.Random(cfg, 7)
	if err != nil {
		return err
	}
	// The reference's ids_for(n, vocab, 1).
	src := make([]int, srcLen)
	for i := range src {
		src[i] = (i*7919+104729+3)%(cfg.VocabSize-3) + 3
	}
	var bestDec, bestEnc float64
	var ids []int
	for range reps {
		t0 := time.Now()
		enc, err := m.Encode([][]int{src})
		if err != nil {
			return err
		}
		d, err := m.NewDecoderFor(enc, bart.DecoderOptions{MaxLen: newTokens})
		if err != nil {
			return err
		}
		t1 := time.Now()
		tok := cfg.DecoderStartTokenID
		step := [][]int{{0}}
		ids = ids[:0]
		for range newTokens {
			step[0][0] = tok
			if err := d.Forward(step); err != nil {
				return err
			}
			tok = kernels.Argmax(d.Logits(0))
			ids = append(ids, tok)
		}
		t2 := time.Now()
		bestDec = max(bestDec, float64(newTokens)/t2.Sub(t1).Seconds())
		bestEnc = max(bestEnc, float64(srcLen)/t1.Sub(t0).Seconds())
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"threads": runtime.GOMAXPROCS(0), "kernels": kernels.Impl(),
		"decode_tok_s": bestDec, "encode_tok_s": bestEnc, "greedy_ids": ids,
	})
}
