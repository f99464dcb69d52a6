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
# loupe runs with each weight format of QUANTS (default "none int8 bf16 f16
# int8-dir": float32, --quantize int8, --quantize bf16, --quantize f16, and
# the directory `loupe quantize --quantize int8` writes, loaded as stored),
# PyTorch in
# float32.
# PyTorch (Debian python3-torch) runs the reference GPT-2 of reference.py,
# written as transformers' modeling_gpt2.py computes it, under
# torch.inference_mode with a KV cache (past key/values) for decoding, with 1
# and 2 threads and OMP_WAIT_POLICY=PASSIVE; its best is kept. The two sides
# take turns for REPS rounds and each keeps its best.
set -eu
REPS=${REPS:-3}
QUANTS=${QUANTS:-none int8 bf16 f16 int8-dir}
PY=${PY:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "building loupe and writing the checkpoint to $TMP ..." >&2
(cd "$ROOT" && go build -o "$TMP/loupe" ./cmd/loupe)
WEIGHT_BYTES=$($PY "$ROOT/model/gpt2/testdata/reference.py" checkpoint "$TMP/gpt2-small" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
ids() { $PY -c "import sys; n=int(sys.argv[1]); print(','.join(str(i*7919%50257) for i in range(n)))" "$1"; }
case " $QUANTS " in *" int8-dir "*)
	echo "loupe quantize --quantize int8 ..." >&2
	"$TMP/loupe" quantize --model "$TMP/gpt2-small" --out "$TMP/gpt2-small-int8" --quantize int8 >&2 ;;
esac
# model_args Q: the loupe model flags of weight format Q.
model_args() {
	if [ "$1" = int8-dir ]; then echo "--model $TMP/gpt2-small-int8"; else echo "--model $TMP/gpt2-small --quantize $1"; fi
}
P16=$(ids 16)
P512=$(ids 512)

# loupe and PyTorch (1 and 2 threads) take turns, REPS rounds, so that both see
# the same machine conditions; each keeps its best.
torch_decode=0 torch_prefill=0
for q in $QUANTS; do echo "0 0 0" >"$TMP/best-$q"; done
for r in $(seq "$REPS"); do
	for q in $QUANTS; do
		# shellcheck disable=SC2046 # model_args is split on purpose
		/usr/bin/time -v -o "$TMP/time.txt" "$TMP/loupe" generate $(model_args "$q") --prompt-ids "$P16" \
			--greedy --ignore-eos --max-new-tokens 128 --format json >"$TMP/dec-$q.json"
		rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$TMP/time.txt")
		d=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["decode_tokens"]/s["decode_seconds"])' "$TMP/dec-$q.json")
		# shellcheck disable=SC2046
		"$TMP/loupe" generate $(model_args "$q") --prompt-ids "$P512" --greedy --max-new-tokens 1 --format json >"$TMP/pre.json"
		p=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["prefill_tokens"]/s["prefill_seconds"])' "$TMP/pre.json")
		echo "round $r: loupe --quantize $q decode $d tok/s, prefill $p tok/s, peak RSS $rss KiB" >&2
		read bd bp br <"$TMP/best-$q"
		$PY -c "d,p,r,bd,bp,br=$d,$p,$rss,$bd,$bp,$br; print(max(d,bd), max(p,bp), r if br==0 else min(r,br))" >"$TMP/best-$q"
	done
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
$PY - "$TMP/dec-$(echo $QUANTS | cut -d' ' -f1).json" "$TMP/torch1.json" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1]))["ids"]
b = json.load(open(sys.argv[2]))["greedy_ids"]
n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
print("greedy ids: loupe and PyTorch agree on the first %d of %d tokens" % (n, len(a)))
PYEOF
for q in $QUANTS; do printf '%s %s\n' "$q" "$(cat "$TMP/best-$q")"; done >"$TMP/best.txt"
$PY - "$TMP/best.txt" "$torch_decode" "$torch_prefill" "$WEIGHT_BYTES" <<'PYEOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
td, tp, wb = map(float, sys.argv[2:])
name = {"none": "float32", "float32": "float32", "int8": "int8", "bf16": "bf16", "f16": "f16", "int8-dir": "int8 (loupe quantize directory)"}
base = {}
for q, d, p, r in rows:
    if name[q] == "float32":
        base = {"d": float(d), "p": float(p)}
print("| GPT-2 small (random weights), loupe weights | decode tok/s (128 after 16, batch 1) | prefill tok/s (512) | peak RSS / float32 weight bytes | decode / PyTorch | decode / loupe float32 | prefill / loupe float32 |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for q, d, p, r in rows:
    d, p, r = float(d), float(p), float(r) * 1024
    rel = lambda x, k: "%.2fx" % (x / base[k]) if base else ""
    print("| %s | %.1f | %.0f | %.0f MiB / %.0f MiB = %.2fx | %.2fx | %s | %s |" % (name[q], d, p, r / 2**20, wb / 2**20, r / wb, d / td, rel(d, "d"), rel(p, "p")))
print("| PyTorch float32 (best of 1 and 2 threads) | %.1f | %.0f | | | | |" % (td, tp))
PYEOF
