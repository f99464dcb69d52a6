#!/bin/sh
# Embedding throughput: loupe vs a PyTorch reference on the same weights.
#
# all-MiniLM-L6-v2 shape (6 layers, hidden 384, 12 heads, intermediate 1536,
# vocab 30522), random weights shared by both sides (splitmix64, see
# model/bert/testdata/reference.py), batch 32 x 32 tokens, float32, BERT
# forward pass (last_hidden_state). Each side runs with 1 and 2 threads;
# PyTorch with OMP_WAIT_POLICY=PASSIVE and inference_mode. The two sides
# alternate round by round (so that load from other processes hits both
# alike) and the best of all rounds is kept for each.
#
# Usage: bench/embed.sh [ROUNDS]   (from the repository root; default 4)
set -eu
ROUNDS=${1:-4}
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go test -c -o "$TMP/bert.test" ./model/bert
echo "CPU: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ //"), $(nproc) vCPUs, AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); load average: $(cut -d" " -f1-3 /proc/loadavg); rounds: $ROUNDS"

loupe() { # threads -> sentences/s (best of 3 batches after a warm-up)
	(cd model/bert && "$TMP/bert.test" -test.run '^$' -test.bench '^BenchmarkMiniLMForward$' -test.benchtime 3x -test.cpu "$1") |
		awk '/^BenchmarkMiniLMForward/ {for(i=1;i<=NF;i++) if($(i+1)=="sentences/s") print $i}'
}
torch() { # threads -> sentences/s
	OMP_WAIT_POLICY=PASSIVE $PY bench/embed_torch.py --threads "$1" --reps 3 |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["sentences_per_second"])'
}
: > "$TMP/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for th in 1 2; do
		l=$(loupe "$th"); t=$(torch "$th")
		echo "round $r threads $th: loupe $l  pytorch $t sentences/s"
		echo "$th $l $t" >> "$TMP/results"
	done
	r=$((r + 1))
done

$PY - "$TMP/results" <<'PYEOF'
import sys
best = {}
for line in open(sys.argv[1]):
    th, l, t = line.split()
    b = best.setdefault(th, [0.0, 0.0])
    b[0], b[1] = max(b[0], float(l)), max(b[1], float(t))
print()
print("| threads | loupe sentences/s | PyTorch sentences/s | ratio |")
print("| --- | ---: | ---: | ---: |")
for th in sorted(best):
    l, t = best[th]
    print("| %s | %.1f | %.1f | %.2f |" % (th, l, t, l / t))
lb, tb = max(v[0] for v in best.values()), max(v[1] for v in best.values())
print("| best | %.1f | %.1f | **%.2f** |" % (lb, tb, lb / tb))
print()
print("loupe/PyTorch (best of 1/2 threads each): %.2fx (target >= 1.0x)" % (lb / tb))
PYEOF
