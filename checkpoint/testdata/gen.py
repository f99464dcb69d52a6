"""Writes a small sharded torch checkpoint for the checkpoint tests.

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 checkpoint/testdata/gen.py

bin_sharded/ holds pytorch_model.bin.index.json and two shards written by
torch.save, as transformers' save_pretrained(max_shard_size=...) lays them
out: "a" (F32 2x2) and "b" (F16 3) in the first, "c" (F32 4) in the second.
"""
import json
import os

import torch

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin_sharded")
os.makedirs(here, exist_ok=True)
shards = {
    "pytorch_model-00001-of-00002.bin": {
        "a": torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
        "b": torch.tensor([0.5, -1.5, 65504.0]).half(),
    },
    "pytorch_model-00002-of-00002.bin": {"c": torch.tensor([5.0, 6.0, 7.0, 8.0])},
}
weight_map = {}
total = 0
for name, sd in shards.items():
    torch.save(sd, os.path.join(here, name))
    for k, v in sd.items():
        weight_map[k] = name
        total += v.numel() * v.element_size()
with open(os.path.join(here, "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    f.write("\n")
