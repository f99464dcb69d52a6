#!/bin/sh
# bench/retrieval.sh: issue 13's retrieval targets in one run, on loupe's
# default models (loupe/kjv-gpt2, loupe/kjv-word2vec) and the held-out KJV
# chapters (chapter numbers that are multiples of 10).
#
#   sh bench/retrieval.sh [WORK]     # WORK: scratch directory (default /tmp/loupe-retrieval)
#
# 1. exactness: BM25 scores against search/testdata/bm25_ref.py (plain
#    Python Okapi BM25) and p_kNN / interpolated log-probabilities against
#    retrieval/knnlm/testdata/knnlm_ref.py (PyTorch, float64) given the same
#    neighbours (the golden tests, run verbosely for their largest
#    differences);
# 2. hybrid search: bench/hybrid_eval.py (held-out verses cut in half:
#    recall@10 and MRR@10 of dense, BM25 and hybrid search; the weighted
#    fusion tuned on the other half of the queries);
# 3. kNN-LM: bench/knnlm.sh (datastore over the model's training text, build
#    speed against a plain forward pass, lambda/k/T tuned on the first half of
#    the held-out chapters, perplexity on the second half).
# About 25 minutes on 2 vCPUs; the datastore takes about 0.9 GB on disk and
# 2.2 GB of memory while it is built.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/loupe-retrieval}
mkdir -p "$WORK"
cd "$ROOT"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) threads; avx512: $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"

echo "== exactness"
go test -count=1 -run 'TestBM25Golden$' -v ./search | grep -E 'largest|ok|FAIL'
go test -count=1 -run 'TestExactAgainstTorch$' -v ./retrieval/knnlm | grep -E 'worst|ok|FAIL'

echo "== hybrid search"
go build -o "$WORK/loupe" ./cmd/loupe
LOUPE="$WORK/loupe" /usr/bin/python3 bench/hybrid_eval.py

echo "== kNN-LM"
sh bench/knnlm.sh "$WORK/knnlm"
