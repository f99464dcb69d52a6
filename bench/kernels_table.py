"""Summarise bench/kernels.sh: best-of-rounds for loupe (go test -bench
output) and numpy/OpenBLAS (bench/kernels_numpy.py output), as a Markdown
table with loupe/OpenBLAS and loupe/bandwidth ratios.

usage: kernels_table.py GO_BENCH_OUTPUT NUMPY_OUTPUT
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
        metrics = {unit: float(v) for v, unit in re.findall(r"([\d.]+) (GFLOP/s|GB/s)", rest)}
        sec = float(mt.group(3)) / 1e9
        if name not in best or sec < best[name][0]:
            best[name] = (sec, metrics.get("GFLOP/s", 0.0), metrics.get("GB/s", 0.0))
    return best


def parse_np(path):
    best, notes = {}, []
    for line in open(path):
        if line.startswith("#"):
            if line.rstrip() not in notes:
                notes.append(line.rstrip())
            continue
        f = line.split()
        if len(f) != 4:
            continue
        name, sec, gf, gb = f[0], float(f[1]), float(f[2]), float(f[3])
        if name not in best or sec < best[name][0]:
            best[name] = (sec, gf, gb)
    return best, notes


def weight_bytes(name):
    m = re.search(r"(\d+)x(\d+)x(\d+)", name)
    return 4.0 * int(m.group(2)) * int(m.group(3)) if m else 0.0


def main():
    go = parse_go(sys.argv[1])
    npy, notes = parse_np(sys.argv[2])
    for n in notes:
        print(n)
    reads = {name: v[2] for name, v in go.items() if name.startswith("ReadBandwidth")}
    bw = max(reads.values(), default=0.0)
    for name, gb in sorted(reads.items()):
        print("# read bandwidth (Go, 1 GiB, all threads, %s): %.1f GB/s" % (name.partition("/")[2] or "dot", gb))
    print("# loupe/bandwidth below is against the faster pattern: %.1f GB/s" % bw)
    print()
    print("loupe/bandwidth is shown only where the weights come from memory (larger than L3, or cycled copies: GemvCold).")
    print()
    print("| shape (M×K×N) | loupe GFLOP/s | OpenBLAS GFLOP/s | loupe/OpenBLAS | loupe GB/s | OpenBLAS GB/s | loupe/bandwidth |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (sec, gf, gb) in go.items():
        if name.startswith("ReadBandwidth") or name not in npy:
            continue
        nsec, ngf, ngb = npy[name]
        # Only a weight far larger than the caches (the 154 MB LM head)
        # measures memory bandwidth; smaller ones are read from L2/L3.
        bwr = "%.2f" % (gb / bw) if bw > 0 and (weight_bytes(name) > 64e6 or "Cold" in name) else ""
        print("| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %s |" % (name, gf, ngf, nsec / sec, gb, ngb, bwr))


if __name__ == "__main__":
    main()
