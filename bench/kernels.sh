#!/usr/bin/env bash
# bench/kernels.sh: loupe's kernels against numpy/OpenBLAS on the same shapes
# in the same run, plus the machine's read bandwidth, printed as a table of
# ratios (loupe/OpenBLAS for speed, loupe/bandwidth for the GEMV case).
#
# usage: bench/kernels.sh [ROUNDS]    (default 3; each side runs ROUNDS times,
#                                      interleaved, and the best time is kept)
# Environment: LOUPE_KERNELS (generic|avx2) to bench another kernel set.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/kernels.test" ./internal/kernels
shapes='^Benchmark(Sgemm|Gemv|GemvCold)$/^(768x768x768|512x768x3072|512x3072x768|512x768x768_transB|4x768x2304|8x768x2304|1x768x2304|1x768x3072|1x3072x768|1x768x50257_transB)$'
for r in $(seq "$rounds"); do
	echo "round $r/$rounds" >&2
	"$tmp/kernels.test" -test.run '^$' -test.bench '^BenchmarkReadBandwidth$' -test.benchtime 3x >>"$tmp/go.txt"
	"$tmp/kernels.test" -test.run '^$' -test.bench "$shapes" -test.benchtime 20x >>"$tmp/go.txt"
	# OpenBLAS picks its AVX-512 kernels only with OPENBLAS_CORETYPE unset.
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/kernels_numpy.py 20 >>"$tmp/np.txt"
done
echo "# loupe kernels: $("$tmp/kernels.test" -test.run '^TestImpl$' -test.v | sed -n 's/.*kernel set: //p')"
echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs; best of $rounds rounds"
/usr/bin/python3 bench/kernels_table.py "$tmp/go.txt" "$tmp/np.txt"
