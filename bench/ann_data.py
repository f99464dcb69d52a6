"""Generate the bench/ann.sh data sets with a fixed seed (nothing is committed).

usage: ann_data.py OUTDIR N NQ

Writes, for each data set NAME in (clustered128, clustered384):
  NAME_base.npy (N x d float32), NAME_queries.npy (NQ x d), NAME_gt.npy
  (NQ x 10 int64: exact top-10 by squared L2, brute force with numpy).
"""
import sys

import numpy as np


def clustered(rng, n, nq, d, centres, spread):
    c = rng.standard_normal((centres, d)).astype(np.float32) * 3
    def draw(m):
        k = rng.integers(0, centres, m)
        return (c[k] + rng.standard_normal((m, d)).astype(np.float32) * spread).astype(np.float32)
    return draw(n), draw(nq)


def exact_top10(base, q):
    bn = (base * base).sum(1)
    out = np.empty((len(q), 10), dtype=np.int64)
    for lo in range(0, len(q), 100):
        qq = q[lo:lo + 100]
        d = bn[None, :] - 2 * qq @ base.T
        idx = np.argpartition(d, 10, axis=1)[:, :10]
        part = np.take_along_axis(d, idx, 1)
        out[lo:lo + 100] = np.take_along_axis(idx, np.argsort(part, 1), 1)
    return out


def main():
    out, n, nq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(20261125)
    for name, d, centres, spread in (("clustered128", 128, 100, 1.0), ("clustered384", 384, 1000, 1.5)):
        base, q = clustered(rng, n, nq, d, centres, spread)
        np.save(f"{out}/{name}_base.npy", base)
        np.save(f"{out}/{name}_queries.npy", q)
        np.save(f"{out}/{name}_gt.npy", exact_top10(base, q))


if __name__ == "__main__":
    main()
