#!/bin/sh
# Embedding throughput: loupe vs a PyTorch reference on the same weights,
# float32 and dynamic int8.
#
# all-MiniLM-L6-v2 shape (6 layers, hidden 384, 12 heads, intermediate 1536,
# vocab 30522), random weights shared by both sides (splitmix64, see
# model/bert/testdata/reference.py), batch 32 x 32 tokens, BERT forward pass
# (last_hidden_state). Each side runs with 1 and 2 threads; PyTorch with
# OMP_WAIT_POLICY=PASSIVE and inference_mode. The two sides alternate round
# by round (so that load from other processes hits both alike) and the best
# of all rounds is kept for each.
#
# Rows: loupe float32 (BenchmarkMiniLMForward), loupe int8 and int7
# (BenchmarkMiniLMForwardInt8/Int7: bert.Model.Quantize, dynamic int8 linear
# layers), PyTorch float32 (the anchor) and PyTorch's own dynamic int8:
# torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
# on the same weights (bench/embed_torch_modules.py). The cosine similarity
# of the mean-pooled, normalised embeddings of the 32 sentences to their
# float32 embeddings is printed for loupe int8/int7 (vs loupe float32, from
# TestQuantizedMiniLM) and for PyTorch int8 (vs PyTorch float32).
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

loupe() { # benchmark threads -> sentences/s (best of 3 batches after a warm-up)
	(cd model/bert && "$TMP/bert.test" -test.run '^$' -test.bench "^$1\$" -test.benchtime 3x -test.cpu "$2") |
		awk -v b="$1" '$1 ~ "^"b {for(i=1;i<=NF;i++) if($(i+1)=="sentences/s") print $i}'
}
torch() { # threads quantize -> sentences/s (the JSON line is kept for the cosine)
	OMP_WAIT_POLICY=PASSIVE $PY bench/embed_torch.py --threads "$1" --reps 3 --quantize "$2" > "$TMP/torch.json"
	[ "$2" = int8 ] && cp "$TMP/torch.json" "$TMP/torch_int8.json"
	$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["sentences_per_second"])' "$TMP/torch.json"
}
: > "$TMP/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for th in 1 2; do
		lf=$(loupe BenchmarkMiniLMForward "$th"); tf=$(torch "$th" float32)
		l8=$(loupe BenchmarkMiniLMForwardInt8 "$th"); t8=$(torch "$th" int8)
		l7=$(loupe BenchmarkMiniLMForwardInt7 "$th")
		echo "round $r threads $th: loupe float32 $lf int8 $l8 int7 $l7, pytorch float32 $tf int8 $t8 sentences/s"
		echo "$th $lf $l8 $l7 $tf $t8" >> "$TMP/results"
	done
	r=$((r + 1))
done
(cd model/bert && "$TMP/bert.test" -test.run '^TestQuantizedMiniLM$' -test.v) | grep "bench batch: cosine" > "$TMP/cos" || true

$PY - "$TMP/results" "$TMP/cos" "$TMP/torch_int8.json" <<'PYEOF'
import json, re, sys
cols = ["loupe f32", "loupe int8", "loupe int7", "PyTorch f32", "PyTorch int8"]
best = {}
for line in open(sys.argv[1]):
    f = line.split()
    b = best.setdefault(f[0], [0.0] * len(cols))
    for i, v in enumerate(f[1:]):
        b[i] = max(b[i], float(v))
best["best"] = [max(v[i] for v in best.values()) for i in range(len(cols))]
print()
print("sentences/s:")
print()
print("| threads | " + " | ".join(cols) + " | loupe int8 / PyTorch f32 | loupe int7 / PyTorch f32 | loupe int8 / PyTorch int8 | loupe f32 / PyTorch f32 |")
print("| --- |" + " ---: |" * (len(cols) + 4))
for th in sorted(best, key=lambda k: (k == "best", k)):
    lf, l8, l7, tf, t8 = best[th]
    fmt = "**%.2f**" if th == "best" else "%.2f"
    print("| %s | %s | %s | %s |" % (th, " | ".join("%.1f" % v for v in best[th]),
          " | ".join(fmt % x for x in (l8 / tf, l7 / tf, l8 / t8)), fmt % (lf / tf)))
lf, l8, l7, tf, t8 = best["best"]
print()
print("loupe int8 / PyTorch float32 (best of 1/2 threads each): %.2fx (target >= 1.5x); int7: %.2fx" % (l8 / tf, l7 / tf))
print("loupe int8 / PyTorch int8 (quantize_dynamic): %.2fx" % (l8 / t8))
for line in open(sys.argv[2]):
    m = re.search(r"(int\d), bench batch: cosine to float32 embeddings min ([\d.]+) mean ([\d.]+)", line)
    if m:
        print("cosine loupe %s vs loupe float32 embeddings (32 sentences): min %s mean %s" % m.groups())
t = json.load(open(sys.argv[3]))
print("cosine PyTorch int8 vs PyTorch float32 embeddings (32 sentences): min %.6f mean %.6f (quantized engine %s)"
      % (t["cos_min"], t["cos_mean"], t["engine"]))
PYEOF
