#!/bin/sh
# Embedding throughput: loupe vs a PyTorch reference on the same weights.
#
# all-MiniLM-L6-v2 shape (6 layers, hidden 384, 12 heads, intermediate 1536,
# vocab 30522), random weights shared by both sides (splitmix64, see
# model/bert/testdata/reference.py), batch 32 x 32 tokens, float32, BERT
# forward pass (last_hidden_state). Each side: 1 and 2 threads, best of
# several runs; PyTorch with OMP_WAIT_POLICY=PASSIVE and inference_mode.
#
# Usage: bench/embed.sh [REPS]   (from the repository root; default 5)
set -eu
REPS=${1:-5}
cd "$(dirname "$0")/.."
PY=/usr/bin/python3

echo "== loupe (go test -bench BenchmarkMiniLMForward, -cpu 1,2, best of $REPS)"
out=$(go test -run '^$' -bench '^BenchmarkMiniLMForward$' -benchtime 3x -count "$REPS" -cpu 1,2 ./model/bert)
echo "$out" | grep -E '^(Benchmark|cpu:)'
loupe1=$(echo "$out" | awk '$1=="BenchmarkMiniLMForward" {for(i=1;i<=NF;i++) if($(i+1)=="sentences/s") print $i}' | sort -g | tail -1)
loupe2=$(echo "$out" | awk '$1=="BenchmarkMiniLMForward-2" {for(i=1;i<=NF;i++) if($(i+1)=="sentences/s") print $i}' | sort -g | tail -1)

echo "== PyTorch (bench/embed_torch.py, OMP_WAIT_POLICY=PASSIVE, best of $REPS)"
t1=$(OMP_WAIT_POLICY=PASSIVE $PY bench/embed_torch.py --threads 1 --reps "$REPS")
t2=$(OMP_WAIT_POLICY=PASSIVE $PY bench/embed_torch.py --threads 2 --reps "$REPS")
echo "$t1"; echo "$t2"
torch1=$(echo "$t1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["sentences_per_second"])')
torch2=$(echo "$t2" | $PY -c 'import json,sys; print(json.load(sys.stdin)["sentences_per_second"])')

$PY - "$loupe1" "$loupe2" "$torch1" "$torch2" <<'PYEOF'
import sys
l1, l2, t1, t2 = map(float, sys.argv[1:])
print()
print("| threads | loupe sentences/s | PyTorch sentences/s | ratio |")
print("| --- | ---: | ---: | ---: |")
print("| 1 | %.1f | %.1f | %.2f |" % (l1, t1, l1 / t1))
print("| 2 | %.1f | %.1f | %.2f |" % (l2, t2, l2 / t2))
lb, tb = max(l1, l2), max(t1, t2)
print("| best | %.1f | %.1f | **%.2f** |" % (lb, tb, lb / tb))
print()
print("loupe/PyTorch (best of 1/2 threads each): %.2fx (target >= 1.0x)" % (lb / tb))
PYEOF
