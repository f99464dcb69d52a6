"""Writes the pytorch_model.bin test checkpoints from the safetensors ones.

Run from the repository root with Debian's python3-torch (after reference.py):

    /usr/bin/python3 model/gpt2/testdata/gen_torch.py

tiny_bin/      tiny/'s weights saved by torch.save as transformers'
               GPT2LMHeadModel.state_dict() holds them: keys with the
               "transformer." prefix, the attn.bias buffers, and lm_head.weight
               tied to transformer.wte.weight (one storage, saved once).
tiny_bin_f16/  tiny_f16/'s F16 weights saved by torch.save, keys without the
               prefix.

The loaded models must give logits bit-identical to those of tiny/ and
tiny_f16/ (TestTorchCheckpoint).
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


def convert(src, dst, tie):
    os.makedirs(os.path.join(here, dst), exist_ok=True)
    sd = read_safetensors(os.path.join(here, src, "model.safetensors"))
    if tie:
        sd["lm_head.weight"] = sd["transformer.wte.weight"]  # the same tensor
    torch.save(sd, os.path.join(here, dst, "pytorch_model.bin"))
    shutil.copy(os.path.join(here, src, "config.json"), os.path.join(here, dst, "config.json"))


convert("tiny", "tiny_bin", tie=True)
convert("tiny_f16", "tiny_bin_f16", tie=False)
