#!/usr/bin/env bash
# ANN benchmark: loupe HNSW vs hnswlib (Debian python3-hnswlib) vs faiss
# (python3-faiss) IndexHNSWFlat, and loupe flat vs faiss IndexFlatL2, on the
# same generated data in the same run.
#
#   bench/ann.sh                 # 100,000 base vectors, 1,000 queries (slow: builds take minutes)
#   N=10000 bench/ann.sh         # quicker development run
#   REPEATS=5 bench/ann.sh       # best of 5 query runs (default 3)
#   SETS=clustered128 bench/ann.sh   # one data set only
#   FAISS_HNSW_DIMS="128 384"     # faiss HNSW on both sets (default 128 only: its
#                                # 100k x 384 build takes over 15 minutes here)
#
# Data: two Gaussian-mixture sets (128-d, 100 centres; 384-d, 1000 centres)
# from bench/ann_data.py with a fixed seed, written as .npy to a temporary
# directory (removed at the end); exact top-10 by brute force with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
NQ=${NQ:-1000}
REPEATS=${REPEATS:-3}
SETS=${SETS:-"clustered128 clustered384"}
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/loupe" ./cmd/loupe
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), loupe kernels: $(LOUPE_NO_PROGRESS=1 "$work/loupe" version 2>/dev/null | tr '\n' ' ')"
echo "generating $N base vectors and $NQ queries per set..."
OPENBLAS_NUM_THREADS=2 $PY bench/ann_data.py "$work" "$N" "$NQ"
for set in $SETS; do
	# One BLAS thread: faiss IndexFlatL2 runs its query batch as an OpenBLAS
	# sgemm, which would otherwise use every core while "1 thread" is reported.
	OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $PY bench/ann_bench.py "$work/loupe" "$work" "$set" "$work" "$REPEATS"
	rm -rf "$work/${set}_hnsw" "$work/${set}_flat"
done
