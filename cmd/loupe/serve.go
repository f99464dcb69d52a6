package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/loupe-ml/loupe/defaults"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/seq2seq"
	"github.com/loupe-ml/loupe/server"
	"github.com/spf13/cobra"
)

var serveFlags struct {
	index    string // a shard directory: serve it over NATS
	model    string
	addr     string
	quantize string
	opt      server.Options // the limits
}

var serveCmd = &cobra.Command{
	Use:   "serve --model M [--addr 127.0.0.1:8080] | serve --index SHARD --shard I/N --nats URL",
	Short: "Serve a web UI and JSON API for a GPT-2 or an encoder-decoder, or one shard of a sharded collection over NATS",
	Long: `Serve the explain views in a browser and a JSON API:

  GET  /              the web UI (type a prompt, generate, explore)
  POST /api/generate  {"prompt", "max_new_tokens", "greedy", "temperature", "top_k", "top_p",
                      "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size",
                      "min_new_tokens", "seed", "stop"}; answers loupe generate --format json's {"prompt_ids",
                      "ids", "text", "logprobs", "stats"} plus "model", "finish" and "seed"
  POST /api/explain   the same plus "continuation", "methods", "target", "ig_steps", "raw",
                      "watch", "nmf_components", "from_layer", "to_layer", "no_attention",
                      "interventions"; answers loupe explain --format json's object
  GET  /healthz

Decoding is loupe generate's: a field left out takes the model's
generation_config.json (then transformers' pipeline defaults), so the same
prompt and "seed" give the text loupe generate --seed gives; without "seed"
a random one is drawn and returned. A default max_new_tokens above
--max-new-tokens is lowered to it; nmf_components defaults to 10 (Ecco's).

Requests over the limits get a 4xx status with {"error": "..."}. POSTs from
another web origin (an Origin header that does not match Host) get 403, and
when --addr is a loopback address, requests whose Host is not localhost,
127.0.0.1 or [::1] with the listening port get 421 (a guard against CSRF and
DNS rebinding; curl and scripts that send no Origin are unaffected). SIGINT or
SIGTERM stops accepting connections and lets running requests finish.

With an encoder-decoder --model (BART, mBART, Marian or T5: config.json
model_type bart, mbart, marian or t5) the same routes run it as
text-to-text (docs/seq2seq.md): /api/generate takes the same fields, plus
"num_beams" and "length_penalty" (which a GPT-2 takes too), with "prompt"
the source, and answers the same fields ("prompt_ids" is the decoder's
start; without a length, transformers' max_length 20); /api/translate
(with "from" and "to": config.json's translation_FROM_to_TO task, T5's
prefix; "src_lang", "tgt_lang": mBART's codes) and /api/summarize (the
summarization task when the model lists it) take the same request with
loupe translate's and loupe summarize's tasks; /api/explain takes
{"prompt", "continuation" (target text) or "continuation_ids",
"top_sources", "layer_top_k", "no_attention"} and the decoding fields, and
answers loupe translate --explain --format json's object (cross-attention,
encoder and decoder self-attention, alignment, layer predictions). "/"
serves the encoder-decoder explorable with a source box.

With --index SHARD --shard I/N --nats URL it serves one replica of shard I
of a sharded collection instead (see loupe shard split and docs/cluster.md):
it catches up with the collection's JetStream stream of adds and deletes,
answers the shard's queries in the shard's NATS queue group (replicas of a
shard share it: NATS balances between them and fails over), and keeps
applying updates, saving the index and shard.json (the last sequence
applied) as it goes. With --addr it also serves, for the whole collection:

  POST /api/search     {"query" or "queries", "k", "mode", "filter", …, "require_all"}:
                       merged hits, "partial" and the "missing" shards
  POST /api/documents  {"documents": [{"text", "id", …}]}: embedded here, published
  POST /api/delete     {"ids": [...]}`,
	Example: `  loupe serve --model gpt2
  curl -s localhost:8080/api/explain -d '{"prompt":"The keys to the cabinet","continuation":" are"}'
  loupe serve --model Helsinki-NLP/opus-mt-en-de
  curl -s localhost:8080/api/generate -d '{"prompt":"The house is wonderful.","num_beams":4}'
  loupe serve --index shards/docs-0 --shard 0/4 --nats nats://127.0.0.1:4222 --addr 127.0.0.1:8081`,
	Args: cobra.NoArgs,
	RunE: runServe,
}

func init() {
	f := serveCmd.Flags()
	f.StringVar(&serveFlags.model, "model", defaults.GPT2, "hub id or local directory of a GPT-2, or of an encoder-decoder (BART, mBART, Marian, T5; default: loupe's built-in KJV GPT-2)")
	f.StringVar(&serveFlags.quantize, "quantize", "", quantizeUsage+"; explain's saliency stays float32")
	f.StringVar(&serveFlags.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.IntVar(&serveFlags.opt.MaxNewTokens, "max-new-tokens", 64, "largest max_new_tokens a request may ask for")
	f.IntVar(&serveFlags.opt.MaxPromptTokens, "max-prompt-tokens", 256, "longest prompt, in tokens")
	f.Int64Var(&serveFlags.opt.MaxBodyBytes, "max-body-bytes", 64<<10, "largest request body")
	f.IntVar(&serveFlags.opt.MaxConcurrent, "max-concurrent", 2, "requests computed at once (others wait)")
	rootCmd.AddCommand(serveCmd)
}

func runServe(cmd *cobra.Command, args []string) error { return cliError("serve", serve(cmd)) }

func serve(cmd *cobra.Command) error {
	if serveFlags.index != "" {
		return serveShard(cmd)
	}
	for _, name := range []string{"max-new-tokens", "max-prompt-tokens", "max-body-bytes", "max-concurrent"} {
		if v, _ := strconv.ParseInt(cmd.Flags().Lookup(name).Value.String(), 10, 64); v <= 0 {
			return fmt.Errorf("--%s %d: want a positive number", name, v) // 0 used to mean the default silently
		}
	}
	if serveFlags.model == "" {
		return errors.New("--model is required (a GPT-2 hub id such as gpt2, or a local directory)")
	}
	if err := checkQuantize(serveFlags.quantize); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := serveFlags.opt
	opt.Logger, opt.Addr = log.New(os.Stderr, "loupe serve: ", log.LstdFlags), serveFlags.addr
	ready := func(name string) func(string) {
		return func(url string) {
			jsonOrLine(os.Stdout, map[string]string{"url": url, "model": name}, "serving %s at %s (Ctrl-C to stop)\n", name, url)
		}
	}
	p, err := loadPipelineAt(ctx, serveFlags.model, serveFlags.quantize)
	switch {
	case errors.Is(err, generate.ErrEncoderDecoder) && serveFlags.quantize != "":
		return fmt.Errorf("--quantize %s: %s is an encoder-decoder model; --quantize applies to GPT-2 only", serveFlags.quantize, serveFlags.model)
	case errors.Is(err, generate.ErrEncoderDecoder):
		sp, err := seq2seq.Load(ctx, serveFlags.model, seq2seq.LoadOptions{Hub: hubClient()})
		if err != nil {
			return err
		}
		defer sp.Close()
		err = server.ListenAndServeSeq2Seq(ctx, sp, opt, ready(sp.Name))
		return listenError(err)
	case err != nil:
		return err
	}
	defer p.Close()
	err = server.ListenAndServe(ctx, p, opt, ready(p.Name))
	return listenError(err)
}

// listenError names --addr in a failure to listen.
func listenError(err error) error {
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "listen" {
		return fmt.Errorf("listening on --addr %s: %w", serveFlags.addr, oe)
	}
	return err
}
