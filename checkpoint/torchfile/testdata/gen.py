"""Writes the torchfile test checkpoints and their golden values.

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 checkpoint/torchfile/testdata/gen.py

state.bin      torch.save of a small module's state_dict (so the pickle has the
               OrderedDict _metadata that BUILD sets) plus extra tensors: F16,
               BF16, a tied weight (two names, one storage), a view with a
               storage offset, a transposed (non-contiguous) view, a 0-d
               tensor, an empty tensor and an int64 tensor.
golden.json    for each tensor: dtype, shape and the values as float32
               (exact decimal form), and which names share a storage.
legacy.bin     the same kind of dict saved in the pre-1.6 (non-zip) format,
               which torchfile must refuse with a clear error.
"""
import json
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(1234)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(5, 3)
        self.lin = torch.nn.Linear(3, 5)
        self.lin.weight = self.emb.weight  # tied, as GPT-2's lm_head
        self.norm = torch.nn.LayerNorm(3)


m = Tiny()
with torch.no_grad():
    for p in m.parameters():
        p.copy_(torch.randn(p.shape, generator=g))
sd = m.state_dict()  # emb.weight and lin.weight are one storage
big = torch.randn(4, 6, generator=g)
sd["half"] = torch.randn(2, 3, generator=g).half()
sd["bf16"] = torch.randn(3, 2, generator=g).bfloat16()
sd["offset_view"] = big[1:3]          # contiguous, storage offset 6
sd["transposed"] = big.t()            # shares big's storage, strides (1, 6)
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.zeros(0, 4)
sd["ids"] = torch.arange(6, dtype=torch.int64).reshape(2, 3)
sd["half_t"] = torch.randn(3, 2, generator=g).half().t()  # F16, non-contiguous

torch.save(sd, os.path.join(here, "state.bin"))

golden = {"tensors": {}, "shared": [["emb.weight", "lin.weight"], ["offset_view", "transposed"]]}
for k, v in sd.items():
    dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}[v.dtype]
    golden["tensors"][k] = {
        "dtype": dt,
        "shape": list(v.shape),
        "values": [float(x) for x in v.float().contiguous().reshape(-1).tolist()],
    }
with open(os.path.join(here, "golden.json"), "w") as f:
    json.dump(golden, f, indent=1, sort_keys=True)
    f.write("\n")

torch.save({"w": torch.ones(2)}, os.path.join(here, "legacy.bin"), _use_new_zipfile_serialization=False)
