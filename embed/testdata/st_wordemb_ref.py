#!/usr/bin/python3
"""Reference embeddings for sentence-transformers' averaged word embeddings.

Reads the exported models under embed/testdata/st_wordemb/ (cased/, lower/)
from their files alone, the way sentence-transformers' WordEmbeddings,
WhitespaceTokenizer, Pooling and Normalize modules use them, and writes
embed/testdata/st_wordemb/golden.json: for every case text, the vocabulary
rows each model's tokenizer gives and the sentence embedding (one padded
batch of all texts, as SentenceTransformer.encode would run it).

sentence-transformers is not a Debian package and there is no PyPI here, so
the tokenizer is re-implemented from its rules (documented in
docs/embed.md); the math is PyTorch's (Debian python3-torch 1.13):
embedding lookup, masked sum / clamp(count, 1e-9), F.normalize.

It also writes st_wordemb/cased_pytorch_model.bin, the cased model's matrix
saved with torch.save, for the pytorch_model.bin loading test.

Regenerate from the repository root:

    go run ./cmd/loupe word2vec convert --vectors embed/testdata/st_wordemb/vectors.vec \\
        --to sentence-transformers --stop-words embed/testdata/st_wordemb/stop_words.txt \\
        --out embed/testdata/st_wordemb/cased
    go run ./cmd/loupe word2vec convert --vectors embed/testdata/st_wordemb/vectors.vec \\
        --to sentence-transformers --stop-words embed/testdata/st_wordemb/stop_words.txt \\
        --lowercase --normalize --out embed/testdata/st_wordemb/lower
    /usr/bin/python3 embed/testdata/st_wordemb_ref.py
"""

import json
import os
import struct
import string

import torch
import torch.nn.functional as F

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st_wordemb")

WHITESPACE_TOKENIZER = "sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer"

CASES = [
    "the cat sat on the mat",
    "The Cat sat on the mat.",
    "Paris paris PARIS",
    "Hello, world!",
    "(hello) [world] {cat} \"dog\" 'ran'",
    "U.S. don't C++ e-mail",
    "u.s. DON'T c++ E-MAIL",
    "U.S don't. ...C++...",
    "...!!!",
    "... !!! ?",
    "",
    "   \t\n  ",
    "unknown words only here",
    "café naïve straße",
    "CAFÉ NAÏVE STRASSE Straße",
    "ΟΔΟΣ ΟΔΟΣ. οδοσ ΟΔΟΣ.ΟΔΟΣ",
    "İstanbul İSTANBUL istanbul",
    "東京 日本\u3000😀",
    "cat\u00a0dog\u2003ran",
    "cat\u200bdog",
    "cat\x1cdog\x1fran\x85mat",
    "PADDING_TOKEN cat",
    "New York new york",
    "state-of-the-art! -cat- --dog--",
    "cat cat cat dog",
    "And and AND the The THE on On",
    "ÜNÏCODE ünïcode 42 42.",
    " ".join(["cat", "dog", "Paris", "the", "mat"] * 40),
]


def read_safetensors(path):
    """The tensors of a safetensors file, by name (F32 only, as exported)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[8 + n + b : 8 + n + e]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"])
    return out


class Tokenizer:
    """WhitespaceTokenizer's rules, from whitespacetokenizer_config.json."""

    def __init__(self, cfg):
        self.rows = {}
        for i, w in enumerate(cfg["vocab"]):
            self.rows[w] = i  # a repeated word keeps its last row
        self.stop = set(cfg["stop_words"])
        self.lower = cfg["do_lower_case"]

    def rows_of(self, text):
        if self.lower:
            text = text.lower()
        out = []
        for piece in text.split():
            # As written, then without surrounding ASCII punctuation, then
            # lower-cased: a stop word ends the piece, a known word is taken.
            candidates = [piece, piece.strip(string.punctuation)]
            candidates.append(candidates[1].lower())
            for k, c in enumerate(candidates):
                if c in self.stop:
                    break
                if c in self.rows and (k != 1 or c != ""):
                    out.append(self.rows[c])
                    break
        return out


def run(model_dir):
    with open(os.path.join(model_dir, "modules.json")) as f:
        modules = json.load(f)
    types = [m["type"] for m in modules]
    assert types[0] == "sentence_transformers.models.WordEmbeddings", types
    assert types[1] == "sentence_transformers.models.Pooling", types
    normalize = types[2:] == ["sentence_transformers.models.Normalize"]
    wdir = os.path.join(model_dir, modules[0]["path"])
    with open(os.path.join(wdir, "wordembedding_config.json")) as f:
        wcfg = json.load(f)
    assert wcfg["tokenizer_class"] == WHITESPACE_TOKENIZER, wcfg
    with open(os.path.join(wdir, "whitespacetokenizer_config.json"), encoding="utf-8") as f:
        tok = Tokenizer(json.load(f))
    with open(os.path.join(model_dir, modules[1]["path"], "config.json")) as f:
        pcfg = json.load(f)
    assert pcfg["pooling_mode_mean_tokens"] and not pcfg["pooling_mode_cls_token"], pcfg
    weight = read_safetensors(os.path.join(wdir, "model.safetensors"))["emb_layer.weight"]

    ids = [tok.rows_of(t) for t in CASES]
    longest = max(len(r) for r in ids)
    input_ids = torch.tensor([r + [0] * (longest - len(r)) for r in ids], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in ids], dtype=torch.long)
    emb = torch.nn.Embedding(weight.shape[0], weight.shape[1])
    emb.load_state_dict({"weight": weight})
    with torch.no_grad():
        tokens = emb(input_ids)  # [B, T, D]
        m = mask.unsqueeze(-1).expand(tokens.size()).to(tokens.dtype)
        summed = torch.sum(tokens * m, 1)
        count = torch.clamp(m.sum(1), min=1e-9)
        sent = summed / count
        if normalize:
            sent = F.normalize(sent, p=2, dim=1)
    return weight, {"ids": ids, "normalize": normalize, "embeddings": sent.tolist()}


def main():
    golden = {"texts": CASES, "models": {}}
    for name in ("cased", "lower"):
        weight, golden["models"][name] = run(os.path.join(HERE, name))
        if name == "cased":
            torch.save({"emb_layer.weight": weight.clone()}, os.path.join(HERE, "cased_pytorch_model.bin"))
    with open(os.path.join(HERE, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
