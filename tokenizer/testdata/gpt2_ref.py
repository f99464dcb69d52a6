#!/usr/bin/python3
"""A second reference for GPT-2 BPE: the algorithm of OpenAI's gpt-2
src/encoder.py (byte-to-unicode table, the pre-tokenisation pattern run by
the `regex` module, merges applied by rank, all occurrences of the best pair
per round), written out here. Needs Debian's python3-regex.

Usage: gpt2_ref.py vocab.json merges.txt < corpus.jsonl > expected_py.jsonl
"""
import json, sys
import regex

PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def byte_table():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def bpe(word, ranks):
    word = list(word)
    while len(word) > 1:
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        out, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                out.append(word[i] + word[i + 1])
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        encoder = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
    ranks = {m: i for i, m in enumerate(merges)}
    table = byte_table()
    print(f"python {sys.version.split()[0]}, regex {regex.__version__}", file=sys.stderr)
    for line in sys.stdin:
        if not line.strip():
            continue
        text = json.loads(line)
        ids = []
        for piece in PAT.findall(text):
            word = "".join(table[b] for b in piece.encode("utf-8"))
            ids += [encoder[t] for t in bpe(word, ranks)]
        sys.stdout.write(json.dumps({"text": text, "ids": ids}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
