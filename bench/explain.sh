#!/bin/sh
# bench/explain.sh: loupe explain vs a PyTorch autograd reference doing the
# same computation, on the same random GPT-2-small-shaped weights (12 layers,
# 768 wide, 12 heads, vocab 50257; float32).
#
#   sh bench/explain.sh                 # from the repository root
#   REPS=5 IG_TOKENS=16 sh bench/explain.sh
#
# Workload (after a 48-token random prompt, 16 greedily generated tokens):
#   generate      loupe's plain generation of the 16 tokens (prefill + KV-cache decode)
#   grad_x_input  attributions of all 16 generated tokens (target: probability)
#   IG            integrated gradients, IG_STEPS (20) steps, for the first
#                 IG_TOKENS (default 4) generated tokens
# loupe: explain.Attribute (model/gpt2's differentiable pass) via
# `go test -run TestBenchGPT2Small ./explain` (gpt2.Random
# weights, bit-identical to the checkpoint model/gpt2/testdata/reference.py writes).
# PyTorch: bench/explain_ref.py (Debian python3-torch), weights frozen, one
# forward+backward per token (a batch of IG_STEPS inputs for IG), 1 and 2
# threads with OMP_WAIT_POLICY=PASSIVE; the faster is kept. Both sides keep
# the best of REPS runs; the script also prints the largest difference between
# the two sides' scores.
set -eu
REPS=${REPS:-3}
IG_STEPS=${IG_STEPS:-20}
IG_TOKENS=${IG_TOKENS:-4}
PY=${PY:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "writing the checkpoint to $TMP ..." >&2
$PY "$ROOT/model/gpt2/testdata/reference.py" checkpoint "$TMP/gpt2-small" >/dev/null

echo "loupe ..." >&2
(cd "$ROOT" && LOUPE_EXPLAIN_BENCH_OUT="$TMP/loupe.json" LOUPE_BENCH_REPS=$REPS LOUPE_BENCH_IG_STEPS=$IG_STEPS \
	LOUPE_BENCH_IG_TOKENS=$IG_TOKENS go test -count=1 -run TestBenchGPT2Small -timeout 60m ./explain >&2)

best_torch=""
for th in 1 2; do
	echo "pytorch, $th thread(s) ..." >&2
	OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$th $PY "$ROOT/bench/explain_ref.py" "$TMP/gpt2-small" "$TMP/loupe.json" \
		--threads $th --reps "$REPS" >"$TMP/torch$th.json"
	cat "$TMP/torch$th.json" >&2
done

$PY - "$TMP/loupe.json" "$TMP/torch1.json" "$TMP/torch2.json" <<'PYEOF'
import json, sys
lo = json.load(open(sys.argv[1]))
t = [json.load(open(p)) for p in sys.argv[2:]]
tg = min(t, key=lambda x: x["grad_x_input_s"])
ti = min(t, key=lambda x: x["integrated_gradients_s"])
print("| measurement (GPT-2 small shape, 48-token prompt, %d new tokens) | loupe | PyTorch | PyTorch / loupe |" % lo["new_tokens"])
print("| --- | ---: | ---: | ---: |")
print("| plain generation of the %d tokens | %.3f s | | |" % (lo["new_tokens"], lo["generate_s"]))
print("| grad_x_input, all %d tokens | %.3f s | %.3f s (%d thr) | %.2fx |" % (lo["new_tokens"], lo["grad_x_input_s"], tg["grad_x_input_s"], tg["threads"], tg["grad_x_input_s"] / lo["grad_x_input_s"]))
print("| integrated gradients, %d steps, %d tokens | %.3f s | %.3f s (%d thr) | %.2fx |" % (lo["ig_steps"], lo["ig_tokens"], lo["integrated_gradients_s"], ti["integrated_gradients_s"], ti["threads"], ti["integrated_gradients_s"] / lo["integrated_gradients_s"]))
print()
print("grad_x_input / plain generation (loupe): %.2fx" % (lo["grad_x_input_s"] / lo["generate_s"]))
print("largest score difference loupe vs PyTorch: grad_x_input %.2e, integrated_gradients %.2e" % (
    max(x["grad_x_input_maxdiff"] for x in t), max(x["integrated_gradients_maxdiff"] for x in t)))
worst = max(c["rel_error"] for c in lo["ig_completeness"])
print("integrated gradients completeness (loupe): max |sum(attr) - (F(x)-F(0))| / |F(x)-F(0)| = %.2e" % worst)
PYEOF
