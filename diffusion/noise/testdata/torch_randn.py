"""Write goldens for package noise from PyTorch's CPU generator.

Regenerate (from the repository root):

    /usr/bin/python3 diffusion/noise/testdata/torch_randn.py

It runs PyTorch with its default kernels (AVX2 on x86), with
ATEN_CPU_CAPABILITY=default (the portable kernels) and with
ATEN_CPU_CAPABILITY=avx512 (recorded only as identical or not to AVX2), and writes
diffusion/noise/testdata/randn.json. Each case is one generator seeded with
manual_seed, then a sequence of calls on it (fixed cases, then 150 random
seeds with random call sequences); every call records the SHA-256
of the float32 output's little-endian bytes, and calls of up to 256 elements
also record every value's bit pattern.
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

SEEDS = [0, 1, 42, 2**32 + 5, 2**63 - 1, 1234567890123]
# Each sequence: list of (op, shape). op is randn (float32), randn16
# (float16), rand (float32 uniform) or rand64 (float64 uniform).
SEQUENCES = [
    [("randn", [1])],
    [("randn", [7])],
    [("randn", [15])],
    [("randn", [16])],
    [("randn", [17])],
    [("randn", [100])],
    [("randn", [4, 64, 64])],
    [("randn", [2, 4, 64, 64])],
    [("randn", [1, 4, 96, 64])],
    # successive calls on one generator: the element-wise path's cached
    # sample survives a block call in between
    [("randn", [3]), ("randn", [33]), ("randn", [5]), ("randn", [1]), ("randn", [16]), ("randn", [2])],
    [("randn", [1, 4, 8, 8]), ("randn", [1, 4, 8, 8]), ("randn", [31])],
    [("rand", [10]), ("rand64", [5]), ("randn", [9])],
    # enough draws to twist the Mersenne Twister many times
    [("rand", [5000]), ("randn", [1000])],
    # float16, as diffusers' fp16 pipelines draw with a CPU generator
    [("randn16", [1, 4, 64, 64]), ("randn16", [7]), ("randn16", [17]), ("randn", [16])],
    [("randn16", [2, 4, 8, 8]), ("randn16", [100]), ("randn16", [1])],
]


def random_cases(n=150, seed=7):
    """Random seeds with random call sequences (sizes 1..40 and 41..3000,
    randn, rand and float64 rand mixed)."""
    import random

    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        calls = []
        for _ in range(rnd.randint(1, 5)):
            size = rnd.randint(1, 40) if rnd.random() < 0.5 else rnd.randint(41, 3000)
            op = rnd.choice(["randn", "randn", "randn", "rand", "rand64", "randn16"])
            calls.append((op, [size]))
        out.append((rnd.getrandbits(63), calls))
    return out


def run_cases():
    import torch

    out = []
    pairs = [(seed, seq) for seed in SEEDS for seq in SEQUENCES] + random_cases()
    for seed, seq in pairs:
        g = torch.Generator().manual_seed(seed)
        calls = []
        for op, shape in seq:
            if op == "randn":
                t = torch.randn(shape, generator=g, dtype=torch.float32)
            elif op == "randn16":
                t = torch.randn(shape, generator=g, dtype=torch.float16)
            elif op == "rand":
                t = torch.rand(shape, generator=g, dtype=torch.float32)
            else:
                t = torch.rand(shape, generator=g, dtype=torch.float64)
            a = t.numpy().ravel()
            le = a.astype(a.dtype.newbyteorder("<"))
            call = {"op": op, "shape": shape, "sha256": hashlib.sha256(le.tobytes()).hexdigest()}
            if a.size <= 256:
                if a.dtype == np.float64:
                    call["bits"] = [format(int(v), "016x") for v in a.view(np.uint64)]
                elif a.dtype == np.float16:
                    call["bits"] = [format(int(v), "04x") for v in a.view(np.uint16)]
                else:
                    call["bits"] = [format(int(v), "08x") for v in a.view(np.uint32)]
            calls.append(call)
        out.append({"seed": str(seed), "calls": calls})
    return {"torch": torch.__version__, "capability": torch.__config__.show().split("CPU capability usage: ")[1].split("\n")[0], "cases": out}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        json.dump(run_cases(), sys.stdout)
        return
    result = {}
    for name, env in [("avx2", {}), ("scalar", {"ATEN_CPU_CAPABILITY": "default"}), ("avx512", {"ATEN_CPU_CAPABILITY": "avx512"})]:
        e = dict(os.environ)
        e.pop("ATEN_CPU_CAPABILITY", None)
        e.update(env)
        r = subprocess.run([sys.executable, __file__, "--child"], env=e, check=True, capture_output=True, text=True)
        result[name] = json.loads(r.stdout)
    # PyTorch's AVX-512 build of the kernel draws the same numbers as AVX2:
    # record that rather than a third copy.
    same = result["avx512"]["cases"] == result["avx2"]["cases"]
    result["avx2"]["avx512_capability_identical"] = same
    del result["avx512"]
    with open(os.path.join(HERE, "randn.json"), "w") as f:
        json.dump(result, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
