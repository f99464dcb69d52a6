"""numpy/OpenBLAS anchor for bench/kernels.sh: the same shapes as the Go
benchmarks in internal/kernels, each timed as the mean of N back-to-back
calls (what `go test -bench -benchtime Nx` reports), one line per sample:

    name  seconds  GFLOP/s  GB/s

Shapes are M×K×N (an M×K activation times a K×N weight; _transB: the
weight is stored [N, K] and used transposed). GB/s counts the weight's bytes.
usage: kernels_numpy.py [CALLS_PER_SAMPLE [SAMPLES]]
Run with /usr/bin/python3 (Debian's python3-numpy, linked to OpenBLAS).
"""
import sys
import time

import numpy as np

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 1

SHAPES = [
    # name, m, k, n, transB
    ("Sgemm/768x768x768", 768, 768, 768, False),
    ("Sgemm/512x768x3072", 512, 768, 3072, False),
    ("Sgemm/512x3072x768", 512, 3072, 768, False),
    ("Sgemm/512x768x768_transB", 512, 768, 768, True),
    ("Sgemm/4x768x2304", 4, 768, 2304, False),
    ("Sgemm/8x768x2304", 8, 768, 2304, False),
    ("Gemv/1x768x2304", 1, 768, 2304, False),
    ("Gemv/1x768x3072", 1, 768, 3072, False),
    ("Gemv/1x3072x768", 1, 3072, 768, False),
    ("Gemv/1x768x50257_transB", 1, 768, 50257, True),
    ("GemvCold/1x768x2304", 1, 768, 2304, False),
    ("GemvCold/1x768x3072", 1, 768, 3072, False),
    ("GemvCold/1x768x768", 1, 768, 768, False),
    ("GemvCold/1x3072x768", 1, 3072, 768, False),
]


def describe_blas():
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                print("# blas: %s %s, core type %s, %s threads (%s)" % (
                    info.get("internal_api"), info.get("version"), info.get("architecture"),
                    info.get("num_threads"), info.get("filepath")))
                return
    except ImportError:
        pass
    # numpy.show_config() prints free text: keep its library lines, as
    # comments, so that kernels_table.py reads only the timing lines.
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        np.show_config()
    print("# blas: threadpoolctl not installed; numpy.show_config():")
    for line in buf.getvalue().splitlines():
        if "libraries" in line or "version" in line:
            print("#   " + line)


def main():
    describe_blas()
    rng = np.random.default_rng(1)
    for name, m, k, n, trans_b in SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        if name.startswith("GemvCold"):
            # Cycle over 512 MiB of weight copies so they come from memory.
            copies = (512 << 20) // (4 * n * k)
            ws = [np.full((k, n), 0.01 * i, dtype=np.float32) for i in range(copies)]
            x = a[0]
            state = [0]

            def f(ws=ws, x=x, state=state):
                i = state[0]
                state[0] = (i + 1) % len(ws)
                return x @ ws[i]
        elif trans_b:
            w = rng.standard_normal((n, k), dtype=np.float32)
            if m == 1:
                x = a[0]
                f = lambda: w @ x  # noqa: E731  (matrix-vector, as a GEMV)
            else:
                f = lambda: a @ w.T  # noqa: E731
        else:
            w = rng.standard_normal((k, n), dtype=np.float32)
            if m == 1:
                x = a[0]
                f = lambda: x @ w  # noqa: E731
            else:
                f = lambda: a @ w  # noqa: E731
        f()
        for _ in range(SAMPLES):
            t = time.perf_counter()
            for _ in range(REPS):
                f()
            sec = (time.perf_counter() - t) / REPS
            print("%s %.9f %.3f %.3f" % (name, sec, 2.0 * m * n * k / sec / 1e9, 4.0 * k * n / sec / 1e9))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
