// Command seq2seqspeed measures loupe's encoder-decoder decoding speed at
// the opus-mt-en-de geometry (-model marian, the default: d_model 512, 6+6
// layers, 8 heads, ffn 2048, swish, vocabulary 58101 shared, sinusoidal
// positions; bart.Random, seed 7: the same values as
// model/bart/testdata/reference.py builds) or the t5-small geometry
// (-model t5: d_model 512, d_kv 64, 8 heads, 6+6 layers, d_ff 2048, relu,
// vocabulary 32128, tied head; t5.Random, seed 7, as
// model/t5/testdata/reference.py builds), random weights:
//
//	GOMAXPROCS=1 go run ./bench/seq2seqspeed [-model marian|t5] [-src-len 64] [-new-tokens 64] [-reps 3] [-beams 1]
//
// It encodes one source of src-len tokens, then decodes new-tokens tokens
// greedily (batch 1, EOS ignored) with the model's Decoder, and prints JSON: the
// best decode and encode speeds over reps runs (tokens per second; the
// decode time excludes the encoder) and the greedy ids. Threads are
// GOMAXPROCS. With -beams N (N > 1) it runs transformers' beam search with
// N beams instead, through generate.Decode over the decoder as a
// generate.LM: exactly new-tokens steps (min_new_tokens = max_new_tokens),
// length_penalty 1, early_stopping false; decode_tok_s is then the best
// sequence's new-tokens tokens per second of the search, "greedy_ids" the
// best sequence and "best_score" its score. bench/seq2seq.sh runs it next
// to PyTorch (bench/seq2seq_beam.py for beams).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/loupe-ml/loupe/generate"
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
	vocab, start, eos int
	// newDecoder encodes src and returns a decoder for it: forward feeds
	// one step, logits reads row 0's.
	newDecoder func(src []int, maxLen int) (forward func([][]int) error, logits func() []float32, err error)
	// newLM encodes src and returns the decoder bound to it as a
	// generate.LM (every row of its caches reads the one source), as
	// seq2seq.Pipeline's LM and T5LM do.
	newLM func(src []int) (generate.LM, error)
}

// lm is a generate.LM over an encoder-decoder's decoder bound to one
// encoded source.
type lm struct {
	vocab, maxLen, eos int
	bytesPerToken      int64
	newCache           func(rows, maxLen, maxRows int) (generate.Cache, error)
}

func (l *lm) VocabSize() int            { return l.vocab }
func (l *lm) MaxLen() int               { return l.maxLen }
func (l *lm) EOSTokenID() int           { return l.eos }
func (l *lm) CacheBytesPerToken() int64 { return l.bytesPerToken }
func (l *lm) NewCache(rows, maxLen, maxRows int) (generate.Cache, error) {
	return l.newCache(rows, maxLen, maxRows)
}

// cacheBytes is decoderLM.CacheBytesPerToken of package seq2seq: a
// target token's self-attention keys and values plus the source's
// cross-attention ones spread over maxLen positions.
func cacheBytes(layers, width, src, maxLen int) int64 {
	self := 2 * int64(layers) * int64(width) * 4
	return self + (self*int64(src)+int64(maxLen)-1)/int64(maxLen)
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
		return seq2seq{cfg.VocabSize, cfg.DecoderStartTokenID, cfg.EOSTokenID, func(src []int, n int) (func([][]int) error, func() []float32, error) {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				return nil, nil, err
			}
			d, err := m.NewDecoderFor(enc, bart.DecoderOptions{MaxLen: n})
			if err != nil {
				return nil, nil, err
			}
			return d.Forward, func() []float32 { return d.Logits(0) }, nil
		}, func(src []int) (generate.LM, error) {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				return nil, err
			}
			return &lm{cfg.DecoderVocab, cfg.MaxPositions, cfg.EOSTokenID, cacheBytes(cfg.DecoderLayers, cfg.DModel, len(src), cfg.MaxPositions),
				func(rows, maxLen, maxRows int) (generate.Cache, error) {
					return m.NewDecoderFor(enc, bart.DecoderOptions{Batch: rows, MaxLen: maxLen, MaxRows: maxRows})
				}}, nil
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
		return seq2seq{cfg.VocabSize, cfg.DecoderStartTokenID, cfg.EOSTokenID, func(src []int, n int) (func([][]int) error, func() []float32, error) {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				return nil, nil, err
			}
			d, err := m.NewDecoderFor(enc, t5.DecoderOptions{MaxLen: n})
			if err != nil {
				return nil, nil, err
			}
			return d.Forward, func() []float32 { return d.Logits(0) }, nil
		}, func(src []int) (generate.LM, error) {
			enc, err := m.Encode([][]int{src})
			if err != nil {
				return nil, err
			}
			return &lm{cfg.VocabSize, t5.DefaultMaxLen, cfg.EOSTokenID, cacheBytes(cfg.DecoderLayers, cfg.Inner(), len(src), t5.DefaultMaxLen),
				func(rows, maxLen, maxRows int) (generate.Cache, error) {
					return m.NewDecoderFor(enc, t5.DecoderOptions{Batch: rows, MaxLen: maxLen, MaxRows: maxRows})
				}}, nil
		}}, nil
	}
	return seq2seq{}, fmt.Errorf("-model %q: want marian or t5", name)
}

func main() {
	model := flag.String("model", "marian", "geometry: marian (opus-mt-en-de) or t5 (t5-small)")
	srcLen := flag.Int("src-len", 64, "source tokens")
	newTokens := flag.Int("new-tokens", 64, "target tokens decoded greedily")
	reps := flag.Int("reps", 3, "runs (the best is kept)")
	beams := flag.Int("beams", 1, "1: greedy with the Decoder; > 1: beam search with that many beams through generate.Decode")
	flag.Parse()
	var err error
	if *beams > 1 {
		err = runBeams(*model, *srcLen, *newTokens, *reps, *beams)
	} else {
		err = run(*model, *srcLen, *newTokens, *reps)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "seq2seqspeed:", err)
		os.Exit(1)
	}
}

func run(model string, srcLen, newTokens, reps int) error {
	m, err := load(model)
	if err != nil {
		return err
	}
	src := source(srcLen, m.vocab)
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

// source returns the reference's ids_for(n, vocab, 1).
func source(n, vocab int) []int {
	src := make([]int, n)
	for i := range src {
		src[i] = (i*7919+104729+3)%(vocab-3) + 3
	}
	return src
}

// beamOptions are the settings of the benchmark's beam search: exactly
// newTokens tokens (min_new_tokens = max_new_tokens), length_penalty 1,
// early_stopping false, the best sequence returned.
func beamOptions(m seq2seq, newTokens, beams int) (generate.Options, generate.Beams) {
	opt := generate.Options{
		Sampling:     generate.Sampling{Greedy: true},
		MaxNewTokens: newTokens,
		MinNewTokens: newTokens,
		EOSTokenIDs:  []int{m.eos},
	}
	return opt, generate.Beams{NumBeams: beams, LengthPenalty: 1, EarlyStopping: generate.EarlyStopHeuristic, NumReturnSequences: 1}
}

// runBeams encodes the source, then runs transformers' beam search with
// beams beams through generate.Decode (the loop loupe translate runs):
// exactly newTokens steps (min_new_tokens = max_new_tokens: the EOS is
// banned until the end), length_penalty 1, early_stopping false
// (transformers' default), no other processor. The decode speed counts
// the best sequence's newTokens tokens over the time of the search
// (encoder excluded).
func runBeams(model string, srcLen, newTokens, reps, beams int) error {
	m, err := load(model)
	if err != nil {
		return err
	}
	src := source(srcLen, m.vocab)
	opt, b := beamOptions(m, newTokens, beams)
	var bestDec, bestEnc float64
	var ids []int
	var score float32
	for range reps {
		t0 := time.Now()
		l, err := m.newLM(src)
		if err != nil {
			return err
		}
		t1 := time.Now()
		o, err := generate.Decode(context.Background(), l, []int{m.start}, opt, b, nil)
		if err != nil {
			return err
		}
		t2 := time.Now()
		best := o.Sequences[0]
		if len(best.IDs) != newTokens {
			return fmt.Errorf("beam search returned %d tokens, want %d", len(best.IDs), newTokens)
		}
		ids, score = best.IDs, best.Score
		bestDec = max(bestDec, float64(newTokens)/t2.Sub(t1).Seconds())
		bestEnc = max(bestEnc, float64(srcLen)/t1.Sub(t0).Seconds())
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"model": model, "threads": runtime.GOMAXPROCS(0), "kernels": kernels.Impl(), "beams": beams,
		"decode_tok_s": bestDec, "encode_tok_s": bestEnc, "greedy_ids": ids, "best_score": score,
	})
}
