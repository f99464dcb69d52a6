"""PyTorch eager timing of SD 1.x's CLIP text encoder (12 layers, width 768,
MLP 3072, quick_gelu) on 2 x 77 tokens, the model of
model/clip/testdata/clip_reference.py with random weights. Prints the best of
REPEATS runs in milliseconds. Used by bench/clip_text.sh."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model", "clip", "testdata"))
import clip_reference as ref  # noqa: E402


def main():
    threads = int(os.environ.get("THREADS", "2"))
    repeats = int(os.environ.get("REPEATS", "5"))
    torch.set_num_threads(threads)
    cfg = {"vocab_size": 1000, "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
           "num_hidden_layers": 12, "max_position_embeddings": 77, "layer_norm_eps": 1e-5,
           "hidden_act": "quick_gelu", "eos_token_id": 999}
    w = ref.make_weights(cfg, 0)
    ids = torch.tensor([[(s * 31 + t * 17) % 998 for t in range(77)] for s in range(2)])
    best = float("inf")
    with torch.no_grad():
        ref.forward(cfg, w, ids)
        for _ in range(repeats):
            t0 = time.perf_counter()
            ref.forward(cfg, w, ids)
            best = min(best, time.perf_counter() - t0)
    print("%.1f" % (best * 1e3))


if __name__ == "__main__":
    main()
