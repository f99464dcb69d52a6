#!/usr/bin/python3
"""PyTorch anchor for bench/embed.sh: all-MiniLM-L6-v2-shaped BERT forward.

Same weights as loupe's BenchmarkMiniLMForward (splitmix64 weights from
model/bert/testdata/reference.py, vocab 30522), same token ids
((i*131 + j*17) % 30522 for sentence i, position j), batch 32 x 32 tokens,
float32, torch.inference_mode. Prints the best sentences/s over --reps runs
for the thread count given (set OMP_WAIT_POLICY=PASSIVE in the environment).

--quantize int8 runs the same model built from nn.Linear modules (bench/
embed_torch_modules.py) after torch.ao.quantization.quantize_dynamic(model,
{nn.Linear}, dtype=torch.qint8), PyTorch's own dynamic int8 path, and also
reports the cosine similarity of its mean-pooled, normalised embeddings to
the float32 ones (min and mean over the sentences).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model", "bert", "testdata"))
import reference  # noqa: E402


def embeddings(h, mask):
    """sentence-transformers mean pooling + L2 normalisation."""
    return reference.normalize(reference.pool(h, mask, "mean"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--quantize", choices=["float32", "int8"], default="float32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = reference.bert_config(30522, 384, 6, 12, 1536, 512)
    w = reference.make_weights(cfg, "", False)
    V = cfg["vocab_size"]
    ids = torch.tensor([[(i * 131 + j * 17) % V for j in range(a.seq)] for i in range(a.batch)])
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    extra = {}

    def run():
        return reference.bert_forward(cfg, w, "", ids, types, mask)[0]

    if a.quantize == "int8":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import embed_torch_modules  # noqa: E402
        model = embed_torch_modules.Bert(cfg, w).eval()
        with torch.inference_mode():
            ref = embeddings(run(), mask)
            if torch.max(torch.abs(model(ids, types, mask) - run())) > 1e-4:
                raise SystemExit("embed_torch_modules.Bert differs from reference.bert_forward")
        qmodel = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        with torch.inference_mode():
            cos = (embeddings(qmodel(ids, types, mask), mask) * ref).sum(-1)
        extra = {"cos_min": cos.min().item(), "cos_mean": cos.mean().item(),
                 "engine": torch.backends.quantized.engine}

        def run():  # noqa: F811
            return qmodel(ids, types, mask)
    best = float("inf")
    with torch.inference_mode():
        run()  # warm-up
        for _ in range(a.reps):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
    print(json.dumps({"threads": a.threads, "quantize": a.quantize, "seconds_per_batch": best,
                      "sentences_per_second": a.batch / best, "torch": torch.__version__, **extra}))


if __name__ == "__main__":
    main()
