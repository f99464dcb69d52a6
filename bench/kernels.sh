#!/usr/bin/env bash
# bench/kernels.sh: loupe's kernels against numpy/OpenBLAS on the same shapes
# in the same run, plus the machine's read bandwidth, printed as a table of
# ratios (loupe/OpenBLAS for speed, loupe/bandwidth for the GEMV case).
#
# usage: bench/kernels.sh [ROUNDS]    (default 3)
# Each round runs the Go benchmarks and then numpy on every shape, SAMPLES (4)
# times each, one sample being the mean of 5 back-to-back calls; the table
# keeps the best sample of each side over all rounds (the machine may be
# shared: the best sample is the least disturbed one). The read bandwidth is
# measured every round too, and again right before the LM-head GEMV.
# Environment: LOUPE_KERNELS (generic|avx2) to bench another kernel set.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/kernels.test" ./internal/kernels
shapes='^Benchmark(Sgemm|Gemv|GemvCold)$/^(768x768x768|512x768x3072|512x3072x768|512x768x768_transB|4x768x2304|8x768x2304|1x768x2304|1x768x3072|1x768x768|1x3072x768|1x768x50257_transB)$'
for r in $(seq "$rounds"); do
	echo "round $r/$rounds" >&2
	"$tmp/kernels.test" -test.run '^$' -test.bench "$shapes" -test.benchtime 5x -test.count 4 >>"$tmp/go.txt"
	for i in 1 2 3; do
		"$tmp/kernels.test" -test.run '^$' -test.bench '^BenchmarkReadBandwidth$' -test.benchtime 2x >>"$tmp/go.txt"
		"$tmp/kernels.test" -test.run '^$' -test.bench '^BenchmarkGemv$/^1x768x50257_transB$' -test.benchtime 10x >>"$tmp/go.txt"
	done
	# OpenBLAS picks its AVX-512 kernels only with OPENBLAS_CORETYPE unset.
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/kernels_numpy.py 5 4 >>"$tmp/np.txt"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# loupe kernels: $("$tmp/kernels.test" -test.run '^TestImpl$' -test.v | sed -n 's/.*kernel set: //p')"
echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs; best sample of $rounds rounds x 4 per side"
/usr/bin/python3 bench/kernels_table.py "$tmp/go.txt" "$tmp/np.txt"
