#!/usr/bin/env bash
# CLIP text encoder (SD 1.x size: 12 layers, width 768, 2 x 77 tokens, the
# prompt and the empty negative prompt): loupe (go test -bench
# BenchmarkEncodeSD15) next to PyTorch eager (bench/clip_text_torch.py,
# the reference model of model/clip/testdata) on the same threads, same run.
#
#   bench/clip_text.sh            # 2 threads
#   THREADS=1 bench/clip_text.sh
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load: $(cut -d' ' -f1-3 /proc/loadavg)"
go_ns=$(GOMAXPROCS=$THREADS go test -run XXX -bench 'BenchmarkEncodeSD15$' -benchtime 5x -count 3 ./model/clip/ |
	awk '/^BenchmarkEncodeSD15/ { if (best == "" || $3 < best) best = $3 } END { print best }')
torch_ms=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS THREADS=$THREADS /usr/bin/python3 bench/clip_text_torch.py)
awk -v g="$go_ns" -v t="$torch_ms" -v th="$THREADS" 'BEGIN {
	printf "CLIP text encoder, 2x77 tokens, %d threads: loupe %.1f ms, PyTorch %.1f ms, ratio %.2fx\n", th, g / 1e6, t, t / (g / 1e6)
}'
