"""Run loupe, hnswlib and faiss on one bench/ann.sh data set and print a table.

usage: ann_bench.py LOUPE DATADIR NAME WORKDIR REPEATS

Everything runs on the same data in the same run: HNSW with M=16 and
ef_construction=200, built with 2 threads; queries single-threaded (loupe
--threads 1, hnswlib num_threads=1, faiss omp 1) for an ef sweep; exact flat
search with one thread. Query timings are the best of REPEATS runs; builds
run once each (they take minutes on a shared 2-core machine).
"""
import json
import os
import resource
import subprocess
import sys
import time

import faiss
import hnswlib
import numpy as np

EFS = (10, 16, 32, 64, 128, 256)


def recall(ids, gt):
    hit = 0
    for a, b in zip(ids, gt):
        hit += len(set(int(x) for x in a[:10]) & set(int(x) for x in b))
    return hit / gt.size


def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def loupe(cmd):
    env = dict(os.environ, LOUPE_NO_PROGRESS="1")
    r = subprocess.run(cmd + ["--format", "json"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("loupe failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return json.loads(r.stdout)


def main():
    exe, data, name, work, reps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    bpath = f"{data}/{name}_base.npy"
    qpath = f"{data}/{name}_queries.npy"
    base = np.load(bpath)
    q = np.load(qpath)
    gt = np.load(f"{data}/{name}_gt.npy")
    n, d = base.shape
    nq = len(q)
    print(f"== {name}: {n} x {d} base, {nq} queries, recall@10 vs exact (squared L2) ==")

    # Builds, 2 threads.
    ldir = f"{work}/{name}_hnsw"
    c0 = cpu(resource.RUSAGE_CHILDREN)
    lb = loupe([exe, "index", "build", "--vectors", bpath, "--metric", "l2", "--kind", "hnsw", "--m", "16",
                "--ef-construction", "200", "--threads", "2", "--out", ldir])
    lcpu = cpu(resource.RUSAGE_CHILDREN) - c0  # whole process: reading, building, saving
    h = hnswlib.Index(space="l2", dim=d)
    h.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    t, c0 = time.perf_counter(), cpu(resource.RUSAGE_SELF)
    h.add_items(base, np.arange(n), num_threads=2)
    hb = time.perf_counter() - t
    hcpu = cpu(resource.RUSAGE_SELF) - c0
    h.save_index(f"{work}/{name}.hnswlib")
    hbytes = os.path.getsize(f"{work}/{name}.hnswlib")
    os.remove(f"{work}/{name}.hnswlib")
    f = None
    fbs = "skipped (FAISS_HNSW_DIMS)"
    if str(d) in os.environ.get("FAISS_HNSW_DIMS", "128").split():
        faiss.omp_set_num_threads(2)
        f = faiss.IndexHNSWFlat(d, 16)
        f.hnsw.efConstruction = 200
        t = time.perf_counter()
        f.add(base)
        fbs = f"{time.perf_counter() - t:.1f}s"
    print(f"build (2 threads): loupe {lb['seconds']:.1f}s  hnswlib {hb:.1f}s  faiss {fbs}  "
          f"loupe/hnswlib time {lb['seconds'] / hb:.2f}x")
    print(f"build CPU seconds (both threads): loupe {lcpu:.1f} (whole process)  hnswlib {hcpu:.1f}  loupe/hnswlib {lcpu / hcpu:.2f}x")
    print(f"index memory: loupe {lb['bytes'] / 2**20:.1f} MiB (vectors+links+ids)  hnswlib {hbytes / 2**20:.1f} MiB "
          f"(saved index size)  loupe/hnswlib {lb['bytes'] / hbytes:.2f}x")

    # ef sweep, 1 thread.
    faiss.omp_set_num_threads(1)
    print(f"{'ef':>5} | {'loupe R@10':>10} {'QPS':>8} | {'hnswlib R@10':>12} {'QPS':>8} | {'faiss R@10':>10} {'QPS':>8} | loupe/hnswlib QPS")
    rows = []
    for ef in EFS:
        lbest, lids = None, None
        for _ in range(reps):
            r = loupe([exe, "index", "query", "--index", ldir, "--queries", qpath, "--k", "10", "--ef", str(ef), "--threads", "1"])
            if lbest is None or r["seconds"] < lbest:
                lbest, lids = r["seconds"], r["ids"]
        h.set_ef(ef)
        hbest = None
        for _ in range(reps):
            t = time.perf_counter()
            hids, _ = h.knn_query(q, k=10, num_threads=1)
            el = time.perf_counter() - t
            hbest = el if hbest is None else min(hbest, el)
        fr, fq = float("nan"), float("nan")
        if f is not None:
            f.hnsw.efSearch = ef
            fbest = None
            for _ in range(reps):
                t = time.perf_counter()
                _, fids = f.search(q, 10)
                el = time.perf_counter() - t
                fbest = el if fbest is None else min(fbest, el)
            fr, fq = recall(fids, gt), nq / fbest
        lr, hr = recall(lids, gt), recall(hids, gt)
        rows.append((ef, lr, nq / lbest, hr, nq / hbest, fr, fq))
        print(f"{ef:>5} | {lr:>10.4f} {nq / lbest:>8.0f} | {hr:>12.4f} {nq / hbest:>8.0f} | {fr:>10.4f} {fq:>8.0f} | {hbest / lbest:.2f}x")

    # QPS at the smallest ef reaching recall 0.95, for each library.
    def at95(ri, qi):
        for r in rows:
            if r[ri] >= 0.95:
                return r[0], r[qi]
        return None, None
    le, lq = at95(1, 2)
    he, hq = at95(3, 4)
    if lq and hq:
        print(f"at recall@10 >= 0.95: loupe ef={le} {lq:.0f} QPS, hnswlib ef={he} {hq:.0f} QPS: loupe/hnswlib {lq / hq:.2f}x")

    # Flat, 1 thread.
    fdir = f"{work}/{name}_flat"
    loupe([exe, "index", "build", "--vectors", bpath, "--metric", "l2", "--kind", "flat", "--out", fdir])
    lbest = None
    for _ in range(reps):
        r = loupe([exe, "index", "query", "--index", fdir, "--queries", qpath, "--k", "10", "--threads", "1"])
        lbest = r["seconds"] if lbest is None else min(lbest, r["seconds"])
        lfr = recall(r["ids"], gt)
    ff = faiss.IndexFlatL2(d)
    ff.add(base)
    fbest = None
    for _ in range(reps):
        t = time.perf_counter()
        _, fids = ff.search(q, 10)
        el = time.perf_counter() - t
        fbest = el if fbest is None else min(fbest, el)
    print(f"flat (1 thread, {nq} queries): loupe {nq / lbest:.0f} QPS (recall {lfr:.4f})  faiss IndexFlatL2 {nq / fbest:.0f} QPS "
          f"(recall {recall(fids, gt):.4f})  loupe/faiss {fbest / lbest:.2f}x")
    print()


if __name__ == "__main__":
    main()
