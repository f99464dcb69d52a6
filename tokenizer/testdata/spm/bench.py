#!/usr/bin/python3
"""Encoding speed of python3-sentencepiece on the texts of
BenchmarkSentencePieceEncode (tokenizer/spm_bench_test.go): MB/s of UTF-8
input, one thread (num_threads=1), best of 5 passes, by wall-clock time and
by the process's CPU time (as the Go benchmark's cpuMB/s), since the
machine may be shared. Run from the
repository root: /usr/bin/python3 tokenizer/testdata/spm/bench.py
"""
import json
import os
import time

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")


def texts():
    with open(os.path.join(ROOT, "defaults", "kjv", "heldout.txt"), encoding="utf-8") as f:
        kjv = f.read().rstrip("\n").split("\n")
    with open(os.path.join(HERE, "cases.jsonl"), encoding="utf-8") as f:
        cases = [json.loads(line) for line in f]
    return {"kjv": kjv, "cases": cases}


def main():
    ts = texts()
    for model in ["t5", "bpe", "unigram-bytes"]:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(HERE, model + ".model"))
        for name in ["kjv", "cases"]:
            lines = ts[name]
            n = sum(len(l.encode("utf-8")) for l in lines)
            best, best_cpu = float("inf"), float("inf")
            for _ in range(5):
                t0, c0 = time.perf_counter(), time.process_time()
                sp.encode(lines, num_threads=1)
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            print("python3-sentencepiece %s/%s\t%.2f MB/s\t%.2f cpuMB/s" % (model, name, n / best / 1e6, n / best_cpu / 1e6))


if __name__ == "__main__":
    main()
