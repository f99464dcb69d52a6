#!/bin/sh
# bench/train.sh: loupe train gpt2 against PyTorch eager training of the same
# model, from the same initial weights, on the same token batches, on this
# machine, in one run.
#
#   sh bench/train.sh                 # GPT-2 small and the default model's geometry
#   STEPS=10 GEOMS=small sh bench/train.sh
#
# For each geometry a random checkpoint is written by
# model/gpt2/testdata/reference.py (deterministic weights, not committed), and
# a token stream of ids drawn from the vocabulary. Both sides train it with
# --data-order sequential, dropout 0, AdamW (lr 6e-4, betas 0.9/0.95, weight
# decay 0.1 on 2-D tensors), clipping at 1.0 and a warm-up of 5 steps then
# cosine: loupe via `loupe train gpt2 --init`, PyTorch (Debian python3-torch)
# via train/testdata/train_ref.py, with 2 threads each. Printed: the largest
# per-step difference of the training loss over the steps, training tokens/s
# of each (step time only, evaluation off) and their ratio, and loupe's peak
# RSS (/usr/bin/time -v) against the model's float32 weight bytes.
set -eu
PY=${PY:-/usr/bin/python3}
STEPS=${STEPS:-20}
GEOMS=${GEOMS:-"small default"}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && go build -o "$TMP/loupe" ./cmd/loupe)

echo "| geometry | batch × seq | loss Δ max over $STEPS steps | loupe tok/s | PyTorch tok/s | loupe / PyTorch | loupe peak RSS / weights |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for g in $GEOMS; do
	case $g in
	small) geo="12 768 12 50257 1024"; B=2; T=128 ;;
	default) geo="4 256 4 8192 256"; B=16; T=256 ;;
	*) echo "unknown geometry $g" >&2; exit 2 ;;
	esac
	d="$TMP/$g"
	wb=$($PY "$ROOT/model/gpt2/testdata/reference.py" checkpoint "$d" $geo | $PY -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
	V=$(echo $geo | cut -d' ' -f4)
	$PY -c "import numpy as np,sys; n=($STEPS*$B+1)*$T+1; np.save(sys.argv[1], (np.arange(n,dtype=np.int64)*7919 % $V).astype(np.int32) ^ (np.arange(n) % 5).astype(np.int32))" "$TMP/tok.npy"
	set -- --batch-size $B --seq-len $T --steps $STEPS --lr 6e-4 --min-lr 6e-5 --schedule cosine --warmup 5 \
		--weight-decay 0.1 --beta1 0.9 --beta2 0.95 --eps 1e-8 --grad-clip 1 --grad-accum 1
	rm -rf "$TMP/out"
	LOUPE_NO_PROGRESS=1 /usr/bin/time -v -o "$TMP/time.txt" "$TMP/loupe" train gpt2 --init "$d" --tokens "$TMP/tok.npy" \
		--eval-fraction 0 --data-order sequential --dropout 0 --threads "$THREADS" --checkpoint-every 0 "$@" \
		--out "$TMP/out" --format json >"$TMP/loupe.json"
	rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$TMP/time.txt")
	OMP_NUM_THREADS=$THREADS $PY "$ROOT/train/testdata/train_ref.py" run "$d" "$TMP/tok.npy" \
		batch_size=$B seq_len=$T steps=$STEPS lr=6e-4 min_lr=6e-5 schedule=cosine warmup=5 weight_decay=0.1 \
		beta1=0.9 beta2=0.95 eps=1e-8 grad_clip=1.0 grad_accum=1 threads=$THREADS >"$TMP/torch.json"
	$PY - "$g" "$B × $T" "$TMP/loupe.json" "$TMP/torch.json" "$rss" "$wb" <<'PYEOF'
import json, sys
g, bt, lf, tf, rss, wb = sys.argv[1:]
l, t = json.load(open(lf)), json.load(open(tf))
d = max(abs(a - b) for a, b in zip(l["losses"], t["losses"]))
lt, tt = l["tokens_per_second"], t["tokens_per_second"]
print("| %s | %s | %.2g | %.0f | %.0f | %.2fx | %.0f MiB / %.0f MiB = %.2fx |" % (
    g, bt, d, lt, tt, lt / tt, int(rss) / 1024, int(wb) / 2**20, int(rss) * 1024 / int(wb)))
PYEOF
done
