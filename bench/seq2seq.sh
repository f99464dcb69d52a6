#!/bin/sh
# bench/seq2seq.sh: loupe vs PyTorch, encoder-decoder decoding at the
# opus-mt-en-de geometry (Marian: d_model 512, 6+6 layers, 8 heads, ffn 2048,
# swish, shared vocabulary 58101, sinusoidal positions) and the t5-small
# geometry (T5: d_model 512, d_kv 64, 8 heads, 6+6 layers, d_ff 2048, relu,
# vocabulary 32128, tied head, relative position bias); float32, random
# weights, the same values on both sides.
#
#   sh bench/seq2seq.sh                 # from the repository root
#   REPS=5 sh bench/seq2seq.sh          # more rounds (the best of each is kept)
#   MODELS=t5 sh bench/seq2seq.sh       # one geometry (marian, t5)
#   BEAMS=4 sh bench/seq2seq.sh         # beam search with 4 beams instead of greedy
#
# Measured: batch 1, greedy, 64 target tokens after a 64-token source (tok/s
# of the decode loop; encoding the source is timed apart and not counted).
# loupe: bench/seq2seqspeed -model marian|t5 (bart/t5 Encode, then
# Decoder.Forward one token at a time). PyTorch (Debian python3-torch):
# model/bart/testdata/reference.py bench and model/t5/testdata/reference.py
# bench, the networks written as transformers' modeling_marian.py and
# modeling_t5.py compute them, eager, under torch.no_grad, with past key/values as transformers keeps
# them (self-attention cache grown per step, cross-attention keys/values
# computed once). Both run with 1 and with 2 threads (GOMAXPROCS,
# torch.set_num_threads + OMP_NUM_THREADS, OMP_WAIT_POLICY=PASSIVE), taking
# turns for REPS rounds so that both see the same machine conditions. Printed:
# each side's best, their ratio, and the median over rounds of the ratio
# within a round (steadier when the machine is shared).
#
# BEAMS=N (N > 1) measures beam search instead, as transformers'
# generate(num_beams=N) runs it (_beam_search): exactly NEW steps
# (min_new_tokens = max_new_tokens, so the EOS never ends a beam),
# length_penalty 1, early_stopping False, batch 1 expanded to N beams.
# loupe: bench/seq2seqspeed -beams N, through generate.Decode over the
# decoder as a generate.LM (the loop loupe translate runs). PyTorch:
# bench/seq2seq_beam.py, the same models, eager, under torch.no_grad, the
# encoder output repeated per beam and every past key/value reordered with
# index_select at each step as transformers' _reorder_cache does. tok/s is
# the best sequence's NEW generated tokens per second of the search (the
# encoder excluded); the best sequence's ids are compared.
set -eu
BEAMS=${BEAMS:-1}
REPS=${REPS:-3}
MODELS=${MODELS:-marian t5}
SRC=${SRC:-64}
NEW=${NEW:-64}
PY=${PY:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

(cd "$ROOT" && go build -o "$TMP/seq2seqspeed" ./bench/seq2seqspeed)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) vCPUs, $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: treat the figures as a quick run)"
for model in $MODELS; do
	case $model in marian) pkg=bart ;; t5) pkg=t5 ;; *) echo "unknown model $model (want marian or t5)" >&2; exit 2 ;; esac
	rm -f "$TMP"/loupe*.ratios
	for th in 1 2; do echo 0 >"$TMP/loupe$th"; echo 0 >"$TMP/torch$th"; done
	for r in $(seq "$REPS"); do
		for th in 1 2; do
			GOMAXPROCS=$th "$TMP/seq2seqspeed" -model "$model" -src-len "$SRC" -new-tokens "$NEW" -reps 1 -beams "$BEAMS" >"$TMP/l$th.json"
			if [ "$BEAMS" -gt 1 ]; then
				OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$th $PY "$ROOT/bench/seq2seq_beam.py" --model "$model" --beams "$BEAMS" \
					--threads "$th" --src-len "$SRC" --new-tokens "$NEW" --reps 1 >"$TMP/t$th.json"
			else
				OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$th $PY "$ROOT/model/$pkg/testdata/reference.py" bench \
					--threads "$th" --src-len "$SRC" --new-tokens "$NEW" --reps 1 >"$TMP/t$th.json"
			fi
			$PY - "$TMP/l$th.json" "$TMP/t$th.json" "$TMP/loupe$th" "$TMP/torch$th" "$r" "$th" "$model" <<'PYEOF'
import json, sys
l, t = (json.load(open(p)) for p in sys.argv[1:3])
for path, v in ((sys.argv[3], l["decode_tok_s"]), (sys.argv[4], t["decode_tok_s"])):
    best = float(open(path).read())
    open(path, "w").write(str(max(best, v)))
with open(sys.argv[3] + ".ratios", "a") as f:
    f.write("%f\n" % (l["decode_tok_s"] / t["decode_tok_s"]))
print("%s round %s, %s thread(s): loupe %.1f tok/s, pytorch %.1f tok/s" % (sys.argv[7], sys.argv[5], sys.argv[6], l["decode_tok_s"], t["decode_tok_s"]), file=sys.stderr)
PYEOF
		done
	done
	$PY - "$TMP" "$model" "$BEAMS" "$SRC" "$NEW" <<'PYEOF'
import json, sys
d = sys.argv[1]
beams = int(sys.argv[3])
best = {}
mode = "%d-beam search (tok/s: the best sequence's %s tokens per second)" % (beams, sys.argv[5]) if beams > 1 else "greedy"
print("%s: decode, batch 1, %s, %s-token source (best of the rounds):" % ({"marian": "Marian (opus-mt-en-de geometry)", "t5": "T5 (t5-small geometry)"}[sys.argv[2]], mode, sys.argv[4]))
print("%-8s %14s %14s %7s" % ("threads", "loupe tok/s", "pytorch tok/s", "ratio"))
for th in (1, 2):
    l, t = float(open("%s/loupe%d" % (d, th)).read()), float(open("%s/torch%d" % (d, th)).read())
    best[th] = (l, t)
    rs = sorted(float(x) for x in open("%s/loupe%d.ratios" % (d, th)))
    med = rs[len(rs) // 2] if len(rs) % 2 else (rs[len(rs) // 2 - 1] + rs[len(rs) // 2]) / 2
    print("%-8d %14.1f %14.1f %6.2fx   (median of the rounds' own ratios %.2fx)" % (th, l, t, l / t, med))
lb, tb = max(v[0] for v in best.values()), max(v[1] for v in best.values())
print("best of either thread count: loupe %.1f, pytorch %.1f tok/s: %.2fx" % (lb, tb, lb / tb))
la, ta = json.load(open(d + "/l1.json")), json.load(open(d + "/t1.json"))
a, b = la["greedy_ids"], ta["greedy_ids"]
n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
what = "best sequence's" if beams > 1 else "greedy"
print("%s ids: loupe and PyTorch agree on the first %d of %d tokens" % (what, n, len(a)))
if beams > 1:
    print("best sequence's score: loupe %.6f, PyTorch %.6f" % (la["best_score"], ta["best_score"]))
    print("loupe's best sequence:", " ".join(map(str, a)))
PYEOF
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
