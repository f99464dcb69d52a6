"""PyTorch anchor for bench/conv.sh: the Stable Diffusion 1.5 UNet's
convolutions, GroupNorm+SiLU and matrix multiplies at 512x512 (64x64
latents, batch 2), the same shapes as internal/kernels/conv_bench_test.go,
each timed as the mean of N back-to-back calls, one line per sample:

    name  seconds  metric

metric is GFLOP/s (Conv2D, SgemmUNet) or GB/s (GroupNormSiLU: bytes read
and written). usage: conv_torch.py [CALLS_PER_SAMPLE [SAMPLES [THREADS]]]
Run with /usr/bin/python3 (torch 1.13: oneDNN convolutions, MKL GEMM).
"""
import sys
import time

import torch
import torch.nn.functional as F

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 3
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 2

# (in, out, kernel, stride, size): keep in step with unetConvShapes.
CONVS = [
    (4, 320, 3, 1, 64), (320, 320, 3, 1, 64), (640, 640, 3, 1, 32),
    (1280, 1280, 3, 1, 16), (1280, 1280, 3, 1, 8), (960, 320, 3, 1, 64),
    (320, 320, 3, 2, 64), (640, 640, 3, 2, 32), (1280, 1280, 3, 2, 16),
    (320, 320, 1, 1, 64), (960, 320, 1, 1, 64), (1280, 1280, 1, 1, 16),
    (320, 4, 3, 1, 64),
]
GROUPNORMS = [(320, 64 * 64), (640, 32 * 32), (1280, 16 * 16), (1280, 8 * 8), (960, 64 * 64)]
GEMMS = [(8192, 320, 320), (8192, 320, 2560), (8192, 1280, 320), (2048, 640, 640),
         (4096, 40, 4096), (4096, 4096, 40)]


def best(fn):
    fn()
    out = []
    for _ in range(SAMPLES):
        t = time.perf_counter()
        for _ in range(REPS):
            fn()
        out.append((time.perf_counter() - t) / REPS)
    return out


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    print("# torch %s, %d threads, mkldnn %s" % (torch.__version__, torch.get_num_threads(),
                                                torch.backends.mkldnn.is_available()))
    with torch.no_grad():
        for cin, cout, k, s, hw in CONVS:
            x = torch.randn(2, cin, hw, hw)
            w = torch.randn(cout, cin, k, k)
            b = torch.randn(cout)
            pad = k // 2
            oh = (hw + 2 * pad - k) // s + 1
            flops = 2.0 * 2 * cout * oh * oh * cin * k * k
            name = "Conv2D/%d-%dk%ds%d@%dx%d" % (cin, cout, k, s, hw, hw)
            for sec in best(lambda: F.conv2d(x, w, b, stride=s, padding=pad)):
                print("%s %.6g %.2f" % (name, sec, flops / sec / 1e9))
        for c, sp in GROUPNORMS:
            x = torch.randn(2, c, sp)
            g, b = torch.randn(c), torch.randn(c)
            name = "GroupNormSiLU/%dx%d" % (c, sp)
            for sec in best(lambda: F.silu(F.group_norm(x, 32, g, b, 1e-5))):
                print("%s %.6g %.3f" % (name, sec, x.numel() * 8 / sec / 1e9))
        for m, k, n in GEMMS:
            a, bm = torch.randn(m, k), torch.randn(k, n)
            name = "SgemmUNet/%dx%dx%d" % (m, k, n)
            for sec in best(lambda: torch.matmul(a, bm)):
                print("%s %.6g %.2f" % (name, sec, 2.0 * m * n * k / sec / 1e9))


if __name__ == "__main__":
    main()
