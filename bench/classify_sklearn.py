#!/usr/bin/python3
"""loupe classify vs scikit-learn LogisticRegression on the same embeddings.

A synthetic three-topic data set (seeded) is written as JSON lines; loupe
embeds it with the small sentence-transformers test model
(embed/testdata/st, random weights, so the embeddings carry only lexical
signal) and trains/evaluates with `loupe classify`; the same embeddings,
exported with `loupe embed --output X.npy`, are fitted by scikit-learn's
LogisticRegression (C=1, lbfgs, multinomial). Prints both test accuracies.

Usage (from the repository root): /usr/bin/python3 bench/classify_sklearn.py [LOUPE_BINARY]
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODEL = os.path.join(ROOT, "embed", "testdata", "st")
TOPICS = {
    "animals": ["cat", "dog", "fox", "mat", "lazy", "sat", "jump", "brown"],
    "computing": ["cpu", "model", "bert", "run", "fast", "token", "vector", "embed"],
    "language": ["word", "piece", "sentence", "language", "search", "hello", "world", "mini"],
}
FILLER = ["the", "a", "an", "is", "was", "on", "and", "of", "to", "in", "it", "how", "do", "i", "what", "go"]


def make(rng, n):
    out = []
    labels = sorted(TOPICS)
    for _ in range(n):
        label = rng.choice(labels)
        words = []
        for _ in range(rng.randint(4, 12)):
            r = rng.random()
            if r < 0.35:
                words.append(rng.choice(TOPICS[label]))
            elif r < 0.55:  # words of another topic: noise
                words.append(rng.choice(TOPICS[rng.choice(labels)]))
            else:
                words.append(rng.choice(FILLER))
        out.append({"text": " ".join(words), "label": label})
    return out


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def main():
    loupe = sys.argv[1] if len(sys.argv) > 1 else None
    tmp = tempfile.mkdtemp(prefix="loupe-classify-")
    if loupe is None:
        loupe = os.path.join(tmp, "loupe")
        run(["go", "build", "-o", loupe, "./cmd/loupe"])
    rng = random.Random(42)
    train, test = make(rng, 600), make(rng, 300)
    paths = {}
    for name, data in (("train", train), ("test", test)):
        p = os.path.join(tmp, name + ".jsonl")
        with open(p, "w") as f:
            for r in data:
                f.write(json.dumps(r) + "\n")
        paths[name] = p
    clf = os.path.join(tmp, "clf.json")
    tr = json.loads(run([loupe, "classify", "train", "--model", MODEL, "--data", paths["train"], "--out", clf, "--format", "json"]))
    ev = json.loads(run([loupe, "classify", "eval", "--classifier", clf, "--data", paths["test"], "--format", "json"]))
    X = {}
    for name in ("train", "test"):
        npy = os.path.join(tmp, name + ".npy")
        run([loupe, "embed", "--model", MODEL, "--input", paths[name], "--output", npy, "--format", "json"])
        X[name] = np.load(npy).astype(np.float64)
    y = {name: np.array([r["label"] for r in data]) for name, data in (("train", train), ("test", test))}
    sk = LogisticRegression(C=1.0, multi_class="multinomial", solver="lbfgs", max_iter=10000).fit(X["train"], y["train"])
    pred = sk.predict(X["test"])
    sk_acc = float((pred == y["test"]).mean())
    sk_f1 = float(f1_score(y["test"], pred, average="macro"))
    print("data: %d train / %d test texts, 3 labels, embeddings dim %d (%s)" % (len(train), len(test), X["train"].shape[1], MODEL))
    print("loupe:        test accuracy %.4f  macro-F1 %.4f  (train accuracy %.4f, %d L-BFGS iterations)"
          % (ev["accuracy"], ev["macro_f1"], tr["train_accuracy"], tr["iterations"]))
    print("scikit-learn: test accuracy %.4f  macro-F1 %.4f" % (sk_acc, sk_f1))
    d = 100 * (ev["accuracy"] - sk_acc)
    print("difference: %+.2f accuracy points (target: within 1 point) -> %s" % (d, "OK" if abs(d) <= 1 else "MISSED"))


if __name__ == "__main__":
    main()
