#!/usr/bin/python3
"""Reference writer for the safetensors golden files.

Regenerate (from the repository root):

    /usr/bin/python3 safetensors/testdata/gen_golden.py

It writes golden.safetensors by hand (struct + json; the safetensors Python
package is not needed), laid out as the reference Rust implementation lays
files out: tensors sorted by descending dtype (the crate's Dtype enum order:
F32 > BF16 > F16) then by name, header JSON compact with __metadata__ first
and tensors in data order, padded with spaces to a multiple of 8 bytes.
F16 and BF16 values are converted by PyTorch (round to nearest even; see
the note on BF16 NaNs below).

golden.json records, for every tensor, the float32 source values as bit
patterns ("src") and the float32 values a reader must return ("want").
"""
import json
import os
import struct

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))


def f32bits(a):
    return [int(x) for x in np.asarray(a, dtype=np.float32).view(np.uint32)]


def bits_to_f32(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


rng = np.random.default_rng(42)
special = [
    0.0, -0.0, 1.0, -1.0, 0.5, 1.0 / 3.0, 65504.0, 65519.0, 65520.0, 1e6,
    -1e6, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -15,
    1.5 * 2.0 ** -24, 2.5 * 2.0 ** -24, 1e-8, 1e-40, float("inf"),
    float("-inf"), 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8,
    1 + 3 * 2.0 ** -8, 3.3895313892515355e38, -3.4e38, 1.17549435e-38,
]
special_bits = f32bits(special) + [0x7FC00000, 0xFFC00001, 0x7F800001]
randoms = f32bits(rng.standard_normal(37).astype(np.float32) * 10)
half_src = special_bits + randoms          # 69 values
bf_src = special_bits + randoms[:31]       # 63 values

tensors = {}  # name -> (dtype, shape, src bits, stored bytes, want bits)


def add(name, dtype, shape, src):
    x = torch.from_numpy(bits_to_f32(src).copy())
    if dtype == "F32":
        stored = x.numpy().astype("<f4").tobytes()
        want = src
    elif dtype == "F16":
        h = x.to(torch.float16)
        stored = h.view(torch.int16).numpy().astype("<i2").tobytes()
        want = f32bits(h.to(torch.float32).numpy())
    elif dtype == "BF16":
        # PyTorch 1.13 rounds to nearest even but turns every NaN into 0xffff;
        # NaNs are stored instead as sign and top payload bits with the quiet
        # bit set (0x7fc0 for the default NaN), as ml_dtypes does.
        b = np.array(src, dtype=np.uint32)
        isnan = (b & 0x7FFFFFFF) > 0x7F800000
        h = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16).copy()
        h[isnan] = ((b[isnan] >> 16) | 0x40).astype(np.uint16)
        stored = h.astype("<u2").tobytes()
        want = [int(v) << 16 for v in h]
    tensors[name] = (dtype, shape, list(src), stored, list(want))


add("h.weight", "F16", [3, 23], half_src)
add("bf", "BF16", [63], bf_src)
add("a.weight", "F32", [2, 3], f32bits([1.5, -0.0, float("inf"), 1e-45, -2.25, 7.0]))
add("scalar", "F32", [], f32bits([3.5]))
add("empty", "F32", [0, 4], [])
add("z.bias", "F32", [5], f32bits(rng.standard_normal(5)))

metadata = {"format": "pt", "note": "<b> & ü"}

rank = {"F16": 11, "BF16": 12, "F32": 15}
order = sorted(tensors, key=lambda n: (-rank[tensors[n][0]], n))

parts = ['"__metadata__":' + json.dumps(metadata, separators=(",", ":"), sort_keys=True, ensure_ascii=False)]
offset = 0
for name in order:
    dtype, shape, _, stored, _ = tensors[name]
    end = offset + len(stored)
    info = {"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}
    parts.append(json.dumps(name) + ":" + json.dumps(info, separators=(",", ":")))
    offset = end
header = ("{" + ",".join(parts) + "}").encode("utf-8")
header += b" " * ((8 - len(header) % 8) % 8)

with open(os.path.join(here, "golden.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for name in order:
        f.write(tensors[name][3])

with open(os.path.join(here, "golden.json"), "w") as f:
    json.dump({
        "metadata": metadata,
        "tensors": [
            {"name": n, "dtype": tensors[n][0], "shape": tensors[n][1],
             "src": tensors[n][2], "want": tensors[n][4]}
            for n in sorted(tensors)
        ],
    }, f, indent=1)
    f.write("\n")
