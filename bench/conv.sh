#!/usr/bin/env bash
# bench/conv.sh: loupe's Conv2D, GroupNorm+SiLU and Sgemm at the Stable
# Diffusion 1.5 UNet's shapes (512x512: 64x64 latents, batch 2) against
# PyTorch eager (torch.nn.functional.conv2d, group_norm + silu, matmul:
# oneDNN / MKL) on the same threads, in the same run, as a Markdown table.
#
# usage: bench/conv.sh [ROUNDS]    (default 3)
# Each round runs the Go benchmarks and then PyTorch on every shape, 3
# samples each, one sample being the mean of 3 back-to-back calls; the table
# keeps the best sample of each side over all rounds (the machine may be
# shared: the best sample is the least disturbed one).
# Environment: LOUPE_KERNELS (generic|avx2) to bench another kernel set;
# THREADS (default 2) for both sides (GOMAXPROCS and torch.set_num_threads);
# FILTER, a Go -test.bench pattern below the three benchmarks (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${THREADS:-2}
filter=${FILTER:-.}
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/kernels.test" ./internal/kernels
for r in $(seq "$rounds"); do
	echo "round $r/$rounds" >&2
	GOMAXPROCS=$threads "$tmp/kernels.test" -test.run '^$' -test.bench "^Benchmark(Conv2D|GroupNormSiLU|SgemmUNet)\$/$filter" \
		-test.benchtime 3x -test.count 3 >>"$tmp/go.txt"
	/usr/bin/python3 bench/conv_torch.py 3 3 "$threads" >>"$tmp/torch.txt"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# loupe kernels: $("$tmp/kernels.test" -test.run '^TestImpl$' -test.v | sed -n 's/.*kernel set: //p')"
echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, $threads threads each side; best sample of $rounds rounds x 3 per side"
/usr/bin/python3 bench/conv_table.py "$tmp/go.txt" "$tmp/torch.txt"
