#!/usr/bin/python3
"""Retrieval benchmark for loupe search: dense vs BM25 vs hybrid.

The task, from the held-out KJV verses (defaults/kjv/heldout-verses.jsonl.gz,
chapters whose number is a multiple of 10): each verse's words (split on
white space) are cut in half; the documents are the second halves (id = the
verse reference), the queries the first halves, and a query's one relevant
document is the other half of its verse. Verses of fewer than 4 words are
left out.

The documents are indexed with `loupe index build --kind flat` (exact
search; the default embedding model, loupe/kjv-word2vec) and each mode is
run with one `loupe search --input QUERIES --k 10 --format json` call:
dense, bm25 (k1 1.2, b 0.75), hybrid rrf (rrf_k 60, 100 candidates) and
hybrid weighted. The weighted fusion's alpha and candidate depth are chosen
on the even-numbered queries (0-based, in file order) from alpha 0.0, 0.05,
..., 1.0 and --candidates 50, 100, 200 by MRR@10; every
number in the table is measured on the odd-numbered queries, which the
tuning never sees (the last column, MRR@10 on the tuning half, is there
only to show how far the tuned gain carries over). Prints a markdown table
of recall@10 and MRR@10 and the time of each loupe search call (index
loading and, for dense and hybrid, the embedding model's load included).

Run from the repository root:
  go build -o /tmp/loupe ./cmd/loupe
  /usr/bin/python3 bench/hybrid_eval.py            # or LOUPE=path/to/loupe
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

LOUPE = os.environ.get("LOUPE", "/tmp/loupe")
VERSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "defaults", "kjv", "heldout-verses.jsonl.gz")
K = 10
ALPHAS = [i / 20 for i in range(21)]
CANDIDATES = [50, 100, 200]


def task():
    docs, queries = [], []
    with gzip.open(VERSES, "rt", encoding="utf-8") as f:
        for line in f:
            v = json.loads(line)
            words = v["text"].split()
            if len(words) < 4:
                continue
            half = len(words) // 2
            docs.append({"text": " ".join(words[half:]), "id": v["ref"]})
            queries.append({"text": " ".join(words[:half]), "ref": v["ref"]})
    return docs, queries


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def run(*args):
    p = subprocess.run([LOUPE, *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("loupe %s failed: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout


def search(index, qpath, nq, flags):
    start = time.time()
    out = run("search", "--index", index, "--input", qpath, "--k", str(K), "--format", "json", *flags)
    seconds = time.time() - start
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    if len(lines) != nq:
        sys.exit("loupe search %s: %d result lines for %d queries" % (" ".join(flags), len(lines), nq))
    ranked = [[(h.get("metadata") or {}).get("id") for h in l["results"]] for l in lines]
    return ranked, seconds


def metrics(ranked, queries):
    recall = mrr = 0.0
    for refs, q in zip(ranked, queries):
        if q["ref"] in refs[:K]:
            recall += 1
            mrr += 1 / (refs.index(q["ref"]) + 1)
    n = len(queries)
    return recall / n, mrr / n


def main():
    docs, queries = task()
    tune, test = queries[0::2], queries[1::2]
    with tempfile.TemporaryDirectory() as tmp:
        dpath = os.path.join(tmp, "docs.jsonl")
        write_jsonl(dpath, docs)
        index = os.path.join(tmp, "idx")
        run("index", "build", "--input", dpath, "--out", index, "--kind", "flat")
        paths = {}
        for name, qs in (("tune", tune), ("test", test)):
            paths[name] = os.path.join(tmp, name + ".jsonl")
            write_jsonl(paths[name], [{"text": q["text"]} for q in qs])

        def measure(name, flags):
            qs = tune if name == "tune" else test
            ranked, seconds = search(index, paths[name], len(qs), flags)
            return metrics(ranked, qs) + (seconds,)

        best = None
        tuning = []
        for c in CANDIDATES:
            for a in ALPHAS:
                r, m, _ = measure("tune", ["--mode", "hybrid", "--fusion", "weighted", "--alpha", str(a), "--candidates", str(c)])
                tuning.append((c, a, r, m))
                if best is None or m > best[3]:
                    best = (c, a, r, m)
        cands, alpha = best[0], best[1]
        rows = [
            ("dense (kjv-word2vec, cosine, flat)", ["--mode", "dense"]),
            ("bm25 (k1 1.2, b 0.75)", ["--mode", "bm25"]),
            ("hybrid rrf (rrf_k 60, 100 candidates)", ["--mode", "hybrid", "--fusion", "rrf"]),
            ("hybrid weighted (alpha %.2f, %d candidates, tuned on the other half)" % (alpha, cands),
             ["--mode", "hybrid", "--fusion", "weighted", "--alpha", str(alpha), "--candidates", str(cands)]),
        ]
        print("Held-out KJV verses cut in half: %d documents (second halves); %d test queries (first halves, odd-numbered), "
              "alpha and candidates tuned on the %d even-numbered ones.\n" % (len(docs), len(test), len(tune)))
        print("| method | recall@10 | MRR@10 | seconds (one loupe search call) | MRR@10 on the tuning half |")
        print("| --- | --- | --- | --- | --- |")
        for label, flags in rows:
            r, m, s = measure("test", flags)
            _, tm, _ = measure("tune", flags)
            print("| %s | %.4f | %.4f | %.2f | %.4f |" % (label, r, m, s, tm))
        for c in CANDIDATES:
            print("\nalpha tuning, %d candidates (even-numbered queries; alpha = weight of dense): " % c +
                  ", ".join("%.2f: %.4f" % (a, m) for cc, a, _, m in tuning if cc == c))


if __name__ == "__main__":
    main()
