"""Writes torch.save copies of tiny/'s weights for the loading tests.

Run from the repository root with Debian's python3-torch (after reference.py):

    /usr/bin/python3 model/bert/testdata/gen_torch.py

tiny_bin/          tiny/model.safetensors (mixed F32/F16, "bert." prefix,
                   LayerNorm gamma/beta names) as one pytorch_model.bin.
tiny_bin_sharded/  the same tensors in two torch.save shards listed by
                   pytorch_model.bin.index.json (embeddings and layer 0 in the
                   first, the rest in the second), as save_pretrained shards.

Both must give outputs bit-identical to tiny/ (TestTorchFormats).
"""
import json
import os
import shutil
import struct
from collections import OrderedDict

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
dtypes = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8 : 8 + n])
    out = OrderedDict()
    for name in sorted(k for k in header if k != "__metadata__"):
        e = header[name]
        lo, hi = e["data_offsets"]
        a = np.frombuffer(b[8 + n + lo : 8 + n + hi], dtype=dtypes[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out


sd = read_safetensors(os.path.join(here, "tiny", "model.safetensors"))
cfg = os.path.join(here, "tiny", "config.json")

os.makedirs(os.path.join(here, "tiny_bin"), exist_ok=True)
torch.save(sd, os.path.join(here, "tiny_bin", "pytorch_model.bin"))
shutil.copy(cfg, os.path.join(here, "tiny_bin", "config.json"))

d = os.path.join(here, "tiny_bin_sharded")
os.makedirs(d, exist_ok=True)
names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
parts = [OrderedDict(), OrderedDict()]
weight_map = {}
for k, v in sd.items():
    i = 0 if ("embeddings" in k or "layer.0." in k) else 1
    parts[i][k] = v
    weight_map[k] = names[i]
for name, part in zip(names, parts):
    torch.save(part, os.path.join(d, name))
total = sum(v.numel() * v.element_size() for v in sd.values())
with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    f.write("\n")
shutil.copy(cfg, os.path.join(d, "config.json"))
