#!/bin/sh
# defaults/build.sh: rebuild loupe's default models (embedded in the binary)
# from Debian packages, with the exact commands and seeds used.
#
#   apt-get install bible-kjv        # the King James Bible (`bible` command)
#   sh defaults/build.sh [WORK]      # WORK: scratch directory (default /tmp/loupe-defaults)
#
# Stages (each skipped when its output exists, so an interrupted run can be
# started again; the GPT-2 stage resumes from its checkpoint):
#   1. data:      the KJV split by defaults/kjv_split.py (chapters whose number
#                 is a multiple of 10 held out)
#   2. tokenizer: byte-level BPE, 8192 tokens, on the held-in chapters
#   3. gpt2:      4 layers, 256 wide, 4 heads, 256 positions, trained on the
#                 held-in chapters (one document per chapter), evaluated on
#                 the held-out ones
#   4. embed:     word2vec skip-gram on the held-in verses, exported as a
#                 sentence-transformers averaged-word-embedding model
#   5. install:   copies the models into defaults/gpt2 and defaults/embed
#                 (what go:embed packs) and prints the held-out perplexity
# The model card is docs/default-models.md.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/loupe-defaults}
STEPS=${STEPS:-1200}
mkdir -p "$WORK"
LOUPE="$WORK/loupe"
(cd "$ROOT" && go build -o "$LOUPE" ./cmd/loupe)

if [ ! -s "$WORK/data/verses.jsonl" ]; then
	COLUMNS=100000 bible "Genesis 1:1-Revelation 22:21" | /usr/bin/python3 "$ROOT/defaults/kjv_split.py" "$WORK/data"
fi

if [ ! -s "$WORK/tokenizer/tokenizer.json" ]; then
	"$LOUPE" tokenizer train --corpus "$WORK/data/train.txt" --vocab-size 8192 --min-frequency 2 \
		--special-token '<|endoftext|>' --out "$WORK/tokenizer"
fi

if [ ! -s "$WORK/gpt2/model.safetensors" ] || [ -d "$WORK/gpt2/checkpoint" ] && [ ! -s "$WORK/gpt2/done" ]; then
	resume=""
	[ -d "$WORK/gpt2/checkpoint" ] && resume="--resume"
	"$LOUPE" train gpt2 --config n_layer=4,n_embd=256,n_head=4,n_ctx=256 --tokenizer "$WORK/tokenizer" \
		--corpus "$WORK/data/train.txt" --documents lines --eval-corpus "$WORK/data/heldout.txt" \
		--batch-size 16 --seq-len 256 --steps "$STEPS" --lr 1e-3 --min-lr 1e-4 --schedule cosine --warmup 50 \
		--weight-decay 0.1 --beta1 0.9 --beta2 0.95 --grad-clip 1 --dropout 0.1 --seed 1337 \
		--eval-every 100 --eval-batches 0 --checkpoint-every 50 --out "$WORK/gpt2" $resume --format json >"$WORK/gpt2-train.json"
	date >"$WORK/gpt2/done"
fi

if [ ! -s "$WORK/embed/modules.json" ]; then
	cat >"$WORK/stopwords.txt" <<'STOP'
the and of to that in he shall unto for i his a they be is him not them it with all thou thy was which my me but ye their have thee from as are when this were by upon there then so or an at had her she we us our you your hath did do thine mine hast shalt wilt doth art
STOP
	"$LOUPE" word2vec train --corpus "$WORK/data/words.txt" --sg --size 96 --window 5 --negative 5 --sample 1e-3 \
		--min-count 2 --epochs 10 --threads 1 --seed 1 --out "$WORK/vectors.bin"
	"$LOUPE" word2vec convert --vectors "$WORK/vectors.bin" --to sentence-transformers --lowercase --normalize \
		--stop-words "$WORK/stopwords.txt" --out "$WORK/embed"
fi

# Install what go:embed packs (the training checkpoint and report stay out),
# with generation defaults that sample (as transformers' text-generation
# pipeline does for GPT-2), and the held-in verses and held-out text the
# README uses.
rm -rf "$ROOT/defaults/gpt2" "$ROOT/defaults/embed"
mkdir -p "$ROOT/defaults/gpt2" "$ROOT/defaults/embed" "$ROOT/defaults/kjv"
for f in config.json model.safetensors tokenizer.json vocab.json merges.txt; do
	cp "$WORK/gpt2/$f" "$ROOT/defaults/gpt2/"
done
cat >"$ROOT/defaults/gpt2/generation_config.json" <<'GEN'
{
  "bos_token_id": 0,
  "eos_token_id": 0,
  "do_sample": true,
  "top_k": 50,
  "top_p": 0.95,
  "temperature": 0.8,
  "max_new_tokens": 40
}
GEN
gzip -9n <"$WORK/data/verses.jsonl" >"$ROOT/defaults/kjv/verses.jsonl.gz"
gzip -9n <"$WORK/data/heldout.jsonl" >"$ROOT/defaults/kjv/heldout-verses.jsonl.gz"
cp "$WORK/data/heldout.txt" "$ROOT/defaults/kjv/heldout.txt"
(cd "$WORK/embed" && find . -type f ! -name README.md | while read -r f; do mkdir -p "$ROOT/defaults/embed/$(dirname "$f")"; cp "$f" "$ROOT/defaults/embed/$f"; done)
"$LOUPE" eval perplexity --model "$ROOT/defaults/gpt2" --max-length 256 --stride 128 "$WORK/data/heldout.txt" --format json
du -sh "$ROOT/defaults/gpt2" "$ROOT/defaults/embed"
