"""Summarise bench/conv.sh: best-of-rounds for loupe (go test -bench output
of BenchmarkConv2D, BenchmarkGroupNormSiLU, BenchmarkSgemmUNet) and PyTorch
(bench/conv_torch.py output), as a Markdown table with the speed ratio
(PyTorch's time / loupe's: above 1, loupe is faster) and the total time of
each section at one call per shape.

usage: conv_table.py GO_BENCH_OUTPUT TORCH_OUTPUT
"""
import re
import sys


def parse_go(path):
    best = {}
    line_re = re.compile(r"^Benchmark(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$")
    for line in open(path):
        mt = line_re.match(line.strip())
        if not mt:
            continue
        name, rest = mt.group(1), mt.group(4)
        unit = "GB/s" if name.startswith("GroupNorm") else "GFLOP/s"
        metric = re.search(r"([\d.]+) %s(\s|$)" % re.escape(unit), rest)
        sec = float(mt.group(3)) / 1e9
        if name not in best or sec < best[name][0]:
            best[name] = (sec, float(metric.group(1)) if metric else 0.0)
    return best


def parse_torch(path):
    best, notes = {}, []
    for line in open(path):
        if line.startswith("#"):
            if line.rstrip() not in notes:
                notes.append(line.rstrip())
            continue
        f = line.split()
        if len(f) != 3:
            continue
        name, sec, metric = f[0], float(f[1]), float(f[2])
        if name not in best or sec < best[name][0]:
            best[name] = (sec, metric)
    return best, notes


def main():
    go = parse_go(sys.argv[1])
    torch, notes = parse_torch(sys.argv[2])
    for n in notes:
        print(n)
    print()
    print("| shape | loupe ms | PyTorch ms | loupe %s | PyTorch %s | speed-up |" % ("rate", "rate"))
    print("|---|---:|---:|---:|---:|---:|")
    totals = {}
    for name, (sec, metric) in go.items():
        if name not in torch:
            continue
        tsec, tmetric = torch[name]
        unit = "GB/s" if name.startswith("GroupNorm") else "GFLOP/s"
        print("| %s | %.2f | %.2f | %.1f %s | %.1f %s | %.2f |" % (
            name, sec * 1e3, tsec * 1e3, metric, unit, tmetric, unit, tsec / sec))
        sect = name.split("/")[0]
        lt, tt = totals.get(sect, (0.0, 0.0))
        totals[sect] = (lt + sec, tt + tsec)
    print()
    for sect, (lt, tt) in totals.items():
        print("%s, one call per shape: loupe %.1f ms, PyTorch %.1f ms, speed-up %.2f" % (sect, lt * 1e3, tt * 1e3, tt / lt))


if __name__ == "__main__":
    main()
