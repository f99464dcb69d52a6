#!/usr/bin/python3
"""End-to-end `loupe embed` vs a PyTorch sentence-transformers pipeline.

Builds an all-MiniLM-L6-v2-shaped sentence-transformers directory in a
temporary folder (random weights from model/bert/testdata/reference.py, the
real bert-base-uncased vocab.txt from tokenizer/testdata, modules.json with
mean pooling + Normalize, max_seq_length 256), makes N texts from the
sentences of tokenizer/testdata/english.txt, and then

  * times `loupe embed --input texts.jsonl --output out.npy` (tokenization,
    length-sorted batches of 32, BERT, pooling, normalisation; the "seconds"
    it reports exclude loading the model);
  * tokenizes with `loupe tokenize` and times the same pipeline in PyTorch
    from those ids (sorted batches of 32, forward, mean pooling, normalize;
    OMP_WAIT_POLICY=PASSIVE, inference_mode, best of 1 and 2 threads);
  * compares the two sets of embeddings (max abs difference, min cosine).

Usage (repository root): /usr/bin/python3 bench/embed_e2e.py [--texts 512] [--reps 3] [--loupe BINARY]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "model", "bert", "testdata"))


def build_model(d, reference):
    os.makedirs(os.path.join(d, "1_Pooling"))
    os.makedirs(os.path.join(d, "2_Normalize"))
    cfg = reference.bert_config(30522, 384, 6, 12, 1536, 512)
    reference.write_safetensors(os.path.join(d, "model.safetensors"), reference.make_weights(cfg, "", True))
    reference.write_json(os.path.join(d, "config.json"), cfg)
    shutil.copy(os.path.join(ROOT, "tokenizer", "testdata", "bert-base-uncased", "vocab.txt"), d)
    reference.write_json(os.path.join(d, "tokenizer_config.json"), {"do_lower_case": True, "model_max_length": 512})
    reference.write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    reference.write_json(os.path.join(d, "1_Pooling", "config.json"),
                         {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True})
    reference.write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": 256, "do_lower_case": False})
    return cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--loupe", default=None)
    a = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np
    import torch
    import reference
    torch.set_grad_enabled(False)

    tmp = tempfile.mkdtemp(prefix="loupe-e2e-")
    try:
        loupe = a.loupe
        if loupe is None:
            loupe = os.path.join(tmp, "loupe")
            subprocess.run(["go", "build", "-o", loupe, "./cmd/loupe"], check=True, cwd=ROOT)
        mdir = os.path.join(tmp, "model")
        cfg = build_model(mdir, reference)
        text = open(os.path.join(ROOT, "tokenizer", "testdata", "english.txt")).read()
        sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        texts = [sents[i % len(sents)] for i in range(a.texts)]
        tj = os.path.join(tmp, "texts.jsonl")
        with open(tj, "w") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")

        env = dict(os.environ, LOUPE_NO_PROGRESS="1")
        out = os.path.join(tmp, "out.npy")

        def loupe_run(th):  # GOMAXPROCS th; texts/s of Embed alone
            r = subprocess.run([loupe, "embed", "--model", mdir, "--input", tj, "--output", out, "--format", "json"],
                               check=True, capture_output=True, text=True, env=dict(env, GOMAXPROCS=str(th)))
            return json.loads(r.stdout)["texts_per_second"]

        r = subprocess.run([loupe, "tokenize", "--model", mdir, "--input", tj], check=True, capture_output=True, text=True, env=env)
        ids = [json.loads(l)["ids"] for l in r.stdout.splitlines() if l.strip()]
        ntok = sum(len(x) for x in ids)
        w = reference.make_weights(cfg, "", True)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))

        def torch_pipeline():
            res = [None] * len(ids)
            for lo in range(0, len(order), 32):
                batch = order[lo:lo + 32]
                bi, bt, bm = reference.pad_batch([ids[i] for i in batch])
                h, _ = reference.bert_forward(cfg, w, "", bi, bt, bm)
                v = reference.normalize(reference.pool(h, bm, "mean"))
                for j, i in enumerate(batch):
                    res[i] = v[j]
            return torch.stack(res).numpy()

        # Alternate the two sides so that load from other processes hits both alike.
        best_loupe, best_torch, tv = 0.0, 0.0, None
        for _ in range(a.reps):
            for th in (1, 2):
                best_loupe = max(best_loupe, loupe_run(th))
                torch.set_num_threads(th)
                with torch.inference_mode():
                    t0 = time.perf_counter()
                    tv = torch_pipeline()
                    best_torch = max(best_torch, len(ids) / (time.perf_counter() - t0))
        lv = np.load(out)
        cos = (lv * tv).sum(1) / (np.linalg.norm(lv, axis=1) * np.linalg.norm(tv, axis=1))
        print("%d texts, %.1f tokens per text on average (real bert-base-uncased vocab), random MiniLM-shaped weights"
              % (len(ids), ntok / len(ids)))
        print()
        print("| pipeline | texts/s |")
        print("| --- | ---: |")
        print("| loupe embed (tokenize + batch + BERT + pool + normalize), best of GOMAXPROCS 1/2 | %.1f |" % best_loupe)
        print("| PyTorch from loupe's token ids (batch + BERT + pool + normalize), best of 1/2 threads | %.1f |" % best_torch)
        print("| ratio | **%.2f** |" % (best_loupe / best_torch))
        print()
        print("embeddings: max abs difference %.2g, min cosine similarity %.7f" % (abs(lv - tv).max(), cos.min()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
