#!/usr/bin/python3
"""loupe classify vs scikit-learn LogisticRegression on the same embeddings.

A synthetic three-topic data set (seeded) is written as JSON lines; loupe
embeds it with the small sentence-transformers test model
(embed/testdata/st, random weights, so the embeddings carry only lexical
signal) and trains/evaluates with `loupe classify`; the same embeddings,
exported with `loupe embed --output X.npy`, are fitted by scikit-learn's
LogisticRegression (C=1, lbfgs, multinomial). Prints both test accuracies.

With --minilm the embeddings come instead from an all-MiniLM-L6-v2-shaped
model (384-d; random weights, the real bert-base-uncased vocabulary; built as
in bench/embed_e2e.py) and the topic words are ordinary English words.

Usage (from the repository root):
    /usr/bin/python3 bench/classify_sklearn.py [--minilm] [--loupe BINARY]
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODEL = os.path.join(ROOT, "embed", "testdata", "st")
MINILM_TOPICS = {
    "animals": ["cat", "dog", "horse", "bird", "fish", "cow", "sheep", "mouse", "lion", "tiger"],
    "food": ["bread", "cheese", "apple", "soup", "rice", "cake", "coffee", "butter", "salad", "pasta"],
    "sport": ["football", "tennis", "goal", "match", "team", "player", "race", "ball", "coach", "score"],
    "weather": ["rain", "snow", "wind", "storm", "sunny", "cloud", "cold", "warm", "fog", "thunder"],
}
MINILM_FILLER = ["the", "a", "is", "was", "on", "and", "of", "to", "in", "it", "we", "they", "very", "today",
                 "yesterday", "there", "with", "from", "about", "some"]
TOPICS = {
    "animals": ["cat", "dog", "fox", "mat", "lazy", "sat", "jump", "brown"],
    "computing": ["cpu", "model", "bert", "run", "fast", "token", "vector", "embed"],
    "language": ["word", "piece", "sentence", "language", "search", "hello", "world", "mini"],
}
FILLER = ["the", "a", "an", "is", "was", "on", "and", "of", "to", "in", "it", "how", "do", "i", "what", "go"]


def make(rng, n, topics=None, filler=None):
    topics = topics or TOPICS
    filler = filler or FILLER
    out = []
    labels = sorted(topics)
    for _ in range(n):
        label = rng.choice(labels)
        words = []
        for _ in range(rng.randint(4, 12)):
            r = rng.random()
            if r < 0.35:
                words.append(rng.choice(topics[label]))
            elif r < 0.55:  # words of another topic: noise
                words.append(rng.choice(topics[rng.choice(labels)]))
            else:
                words.append(rng.choice(filler))
        out.append({"text": " ".join(words), "label": label})
    return out


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", action="store_true")
    ap.add_argument("--loupe", default=None)
    a = ap.parse_args()
    loupe = a.loupe
    tmp = tempfile.mkdtemp(prefix="loupe-classify-")
    if loupe is None:
        loupe = os.path.join(tmp, "loupe")
        run(["go", "build", "-o", loupe, "./cmd/loupe"])
    model, topics, filler = MODEL, None, None
    if a.minilm:
        sys.path.insert(0, os.path.join(ROOT, "model", "bert", "testdata"))
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        import reference
        import embed_e2e
        model = os.path.join(tmp, "minilm")
        embed_e2e.build_model(model, reference)
        topics, filler = MINILM_TOPICS, MINILM_FILLER
    rng = random.Random(42)
    train, test = make(rng, 600, topics, filler), make(rng, 300, topics, filler)
    paths = {}
    for name, data in (("train", train), ("test", test)):
        p = os.path.join(tmp, name + ".jsonl")
        with open(p, "w") as f:
            for r in data:
                f.write(json.dumps(r) + "\n")
        paths[name] = p
    clf = os.path.join(tmp, "clf.json")
    tr = json.loads(run([loupe, "classify", "train", "--model", model, "--data", paths["train"], "--out", clf, "--format", "json"]))
    ev = json.loads(run([loupe, "classify", "eval", "--classifier", clf, "--data", paths["test"], "--format", "json"]))
    X = {}
    for name in ("train", "test"):
        npy = os.path.join(tmp, name + ".npy")
        run([loupe, "embed", "--model", model, "--input", paths[name], "--output", npy, "--format", "json"])
        X[name] = np.load(npy).astype(np.float64)
    y = {name: np.array([r["label"] for r in data]) for name, data in (("train", train), ("test", test))}
    sk = LogisticRegression(C=1.0, multi_class="multinomial", solver="lbfgs", max_iter=10000).fit(X["train"], y["train"])
    pred = sk.predict(X["test"])
    sk_acc = float((pred == y["test"]).mean())
    sk_f1 = float(f1_score(y["test"], pred, average="macro"))
    print("data: %d train / %d test texts, %d labels, embeddings dim %d (%s)" % (
        len(train), len(test), len(set(y["train"])), X["train"].shape[1],
        "all-MiniLM-L6-v2-shaped, random weights" if a.minilm else MODEL))
    print("loupe:        test accuracy %.4f  macro-F1 %.4f  (train accuracy %.4f, %d L-BFGS iterations)"
          % (ev["accuracy"], ev["macro_f1"], tr["train_accuracy"], tr["iterations"]))
    print("scikit-learn: test accuracy %.4f  macro-F1 %.4f" % (sk_acc, sk_f1))
    d = 100 * (ev["accuracy"] - sk_acc)
    print("difference: %+.2f accuracy points (target: within 1 point) -> %s" % (d, "OK" if abs(d) <= 1 else "MISSED"))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
