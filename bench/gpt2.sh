#!/bin/sh
# bench/gpt2.sh: loupe vs PyTorch on a random GPT-2-small-shaped checkpoint
# (12 layers, 768 wide, 12 heads, vocab 50257, 1024 positions; float32).
#
#   sh bench/gpt2.sh            # from the repository root
#   REPS=5 sh bench/gpt2.sh     # more repetitions (best is kept)
#
# The checkpoint is written to a temporary directory by
# model/gpt2/testdata/reference.py (deterministic weights, not committed) and
# both sides read the same model.safetensors. Measured:
#   decode:  batch 1, greedy, 128 new tokens after a 16-token prompt (tok/s of
#            the decode loop; the prompt's prefill is not counted)
#   prefill: one 512-token prompt, logits at the last position only (tok/s)
#   RSS:     loupe's peak resident set during the decode run (/usr/bin/time -v)
#            against the float32 weight bytes
# PyTorch (Debian python3-torch) runs the reference GPT-2 of reference.py,
# written as transformers' modeling_gpt2.py computes it, under
# torch.inference_mode with a KV cache (past key/values) for decoding, with 1
# and 2 threads and OMP_WAIT_POLICY=PASSIVE; its best is kept. The two sides
# take turns for REPS rounds and each keeps its best.
set -eu
REPS=${REPS:-3}
PY=${PY:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "building loupe and writing the checkpoint to $TMP ..." >&2
(cd "$ROOT" && go build -o "$TMP/loupe" ./cmd/loupe)
WEIGHT_BYTES=$($PY "$ROOT/model/gpt2/testdata/reference.py" checkpoint "$TMP/gpt2-small" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
ids() { $PY -c "import sys; n=int(sys.argv[1]); print(','.join(str(i*7919%50257) for i in range(n)))" "$1"; }
P16=$(ids 16)
P512=$(ids 512)

# loupe and PyTorch (1 and 2 threads) take turns, REPS rounds, so that both see
# the same machine conditions; each keeps its best.
best_decode=0 best_prefill=0 best_rss=0 torch_decode=0 torch_prefill=0
for r in $(seq "$REPS"); do
	/usr/bin/time -v -o "$TMP/time.txt" "$TMP/loupe" generate --model "$TMP/gpt2-small" --prompt-ids "$P16" \
		--greedy --ignore-eos --max-new-tokens 128 --format json >"$TMP/dec.json"
	rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$TMP/time.txt")
	d=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["decode_tokens"]/s["decode_seconds"])' "$TMP/dec.json")
	"$TMP/loupe" generate --model "$TMP/gpt2-small" --prompt-ids "$P512" --greedy --max-new-tokens 1 --format json >"$TMP/pre.json"
	p=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["prefill_tokens"]/s["prefill_seconds"])' "$TMP/pre.json")
	echo "round $r: loupe decode $d tok/s, prefill $p tok/s, peak RSS $rss KiB" >&2
	best_decode=$($PY -c "print(max($best_decode, $d))")
	best_prefill=$($PY -c "print(max($best_prefill, $p))")
	[ "$best_rss" = 0 ] || [ "$rss" -lt "$best_rss" ] && best_rss=$rss
	for th in 1 2; do
		out=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$th $PY "$ROOT/model/gpt2/testdata/reference.py" bench "$TMP/gpt2-small" \
			--prompt-len 16 --new-tokens 128 --prefill 512 --threads $th --reps 1)
		echo "$out" >"$TMP/torch$th.json"
		echo "round $r: pytorch $th thread(s) $($PY -c 'import json,sys; o=json.load(open(sys.argv[1])); print("decode", o["decode_tok_s"], "tok/s, prefill", o["prefill_tok_s"], "tok/s")' "$TMP/torch$th.json")" >&2
		torch_decode=$($PY -c "import json; print(max($torch_decode, json.load(open('$TMP/torch$th.json'))['decode_tok_s']))")
		torch_prefill=$($PY -c "import json; print(max($torch_prefill, json.load(open('$TMP/torch$th.json'))['prefill_tok_s']))")
	done
done

# Same weights, same greedy path: the generated ids should agree (a long
# common prefix; float32 rounding may flip a near-tie late in a random model).
$PY - "$TMP/dec.json" "$TMP/torch1.json" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1]))["ids"]
b = json.load(open(sys.argv[2]))["greedy_ids"]
n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
print("greedy ids: loupe and PyTorch agree on the first %d of %d tokens" % (n, len(a)))
PYEOF
$PY - "$best_decode" "$best_prefill" "$best_rss" "$torch_decode" "$torch_prefill" "$WEIGHT_BYTES" <<'PYEOF'
import sys
ld, lp, rss, td, tp, wb = map(float, sys.argv[1:])
rss_b = rss * 1024
print("| GPT-2 small (random weights, float32) | loupe | PyTorch | loupe / PyTorch |")
print("| --- | --- | --- | --- |")
print("| decode, batch 1, 128 tokens after 16 (tok/s) | %.1f | %.1f | %.2fx |" % (ld, td, ld / td))
print("| prefill, 512 tokens (tok/s) | %.0f | %.0f | %.2fx |" % (lp, tp, lp / tp))
print("| peak RSS / float32 weight bytes | %.0f MiB / %.0f MiB | | %.2fx |" % (rss_b / 2**20, wb / 2**20, rss_b / wb))
PYEOF
