"""Write a sentence-transformers directory with all-MiniLM-L6-v2's shape
(6 layers, hidden 384, 12 heads, intermediate 1536; mean pooling, normalize)
and random weights (numpy seed 0), with the small WordPiece vocabulary of
embed/testdata/st, for bench/cluster.sh: a model whose compute per text is
that of MiniLM, available offline. Its vectors mean nothing.

    /usr/bin/python3 bench/cluster_model.py OUTDIR
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

H, L, I, HEADS, POS = 384, 6, 1536, 12, 512
src = os.path.join(os.path.dirname(__file__), "..", "embed", "testdata", "st")
out = sys.argv[1]
os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
for f in ["modules.json", "sentence_bert_config.json", "tokenizer_config.json", "vocab.txt"]:
    shutil.copy(os.path.join(src, f), os.path.join(out, f))
vocab = sum(1 for _ in open(os.path.join(src, "vocab.txt"), encoding="utf-8"))
cfg = json.load(open(os.path.join(src, "config.json")))
cfg.update(hidden_size=H, num_hidden_layers=L, num_attention_heads=HEADS, intermediate_size=I,
           vocab_size=vocab, max_position_embeddings=POS)
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
pool = json.load(open(os.path.join(src, "1_Pooling", "config.json")))
pool["word_embedding_dimension"] = H
json.dump(pool, open(os.path.join(out, "1_Pooling", "config.json"), "w"), indent=1)

rng = np.random.default_rng(0)
t = {}
def lin(name, o, i):
    t[name + ".weight"] = rng.normal(0, 0.05, (o, i)).astype(np.float32)
    t[name + ".bias"] = np.zeros(o, np.float32)
def ln(name):
    t[name + ".weight"] = np.ones(H, np.float32)
    t[name + ".bias"] = np.zeros(H, np.float32)
t["embeddings.word_embeddings.weight"] = rng.normal(0, 0.5, (vocab, H)).astype(np.float32)
t["embeddings.position_embeddings.weight"] = rng.normal(0, 0.1, (POS, H)).astype(np.float32)
t["embeddings.token_type_embeddings.weight"] = rng.normal(0, 0.1, (2, H)).astype(np.float32)
ln("embeddings.LayerNorm")
for l in range(L):
    p = f"encoder.layer.{l}."
    for m in ["query", "key", "value"]:
        lin(p + "attention.self." + m, H, H)
    lin(p + "attention.output.dense", H, H)
    ln(p + "attention.output.LayerNorm")
    lin(p + "intermediate.dense", I, H)
    lin(p + "output.dense", H, I)
    ln(p + "output.LayerNorm")
header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
for k in sorted(t):
    b = t[k].tobytes()
    header[k] = {"dtype": "F32", "shape": list(t[k].shape), "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for b in blobs:
        f.write(b)
