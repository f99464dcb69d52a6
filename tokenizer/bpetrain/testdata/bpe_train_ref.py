#!/usr/bin/env python3
"""Reference byte-level BPE trainer for tokenizer/bpetrain's golden tests.

Plain Python 3, no packages. It is the package's algorithm written the slow,
obvious way: pre-tokenise each corpus with GPT-2's pattern (Python's re, with
\\p{L}, \\p{N} and \\s spelled out as character classes from unicodedata and
the Unicode White_Space list), count the words, then at every step recount
all adjacent pairs and merge the most frequent one (ties: the smaller pair of
ids, left id first), left to right in every word, until the vocabulary is
full, no pair is left or the best count is below min_frequency. Vocabulary
order: special tokens, the 256 byte-level characters by code point, merged
tokens in order (a merge whose string exists reuses its id).

Usage: bpe_train_ref.py [testdata-dir]
Reads cases.json there and writes NAME.golden.json for each case.
"""
import json
import os
import re
import sys
import unicodedata

# Unicode White_Space (what Go's unicode.IsSpace and Rust's \s use).
WHITE_SPACE = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680] + \
    list(range(0x2000, 0x200B)) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]


def char_class(pred):
    """A regex character class (without brackets) of the code points where pred holds."""
    parts, start, prev = [], None, None
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            ok = False
        else:
            ok = pred(cp)
        if ok and start is None:
            start = cp
        if not ok and start is not None:
            parts.append((start, cp - 1))
            start = None
    if start is not None:
        parts.append((start, 0x10FFFF))
    esc = lambda c: "\\U%08x" % c
    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in parts)


def gpt2_pattern():
    L = char_class(lambda c: unicodedata.category(chr(c)).startswith("L"))
    N = char_class(lambda c: unicodedata.category(chr(c)).startswith("N"))
    S = "".join("\\U%08x" % c for c in WHITE_SPACE)
    pat = (r"'s|'t|'re|'ve|'m|'ll|'d| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+"
           .replace("{L}", L).replace("{N}", N).replace("{S}", S))
    return re.compile(pat)


def bytes_to_unicode():
    """GPT-2's byte → printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def count_words(text, pattern):
    """Pre-token → count. Invalid UTF-8 bytes are lone surrogates here
    (surrogateescape), classed as neither letter, number nor space."""
    counts = {}
    for m in pattern.finditer(text):
        w = m.group(0).encode("utf-8", "surrogateescape")
        counts[w] = counts.get(w, 0) + 1
    return counts


def train(word_counts, vocab_size, min_frequency, specials):
    b2u = bytes_to_unicode()
    vocab, index = [], {}
    for s in specials + sorted(b2u.values()):
        if s not in index:
            index[s] = len(vocab)
            vocab.append(s)
    words = [[index[b2u[b]] for b in w] for w in word_counts]
    counts = list(word_counts.values())
    merges = []
    while len(vocab) < vocab_size:
        pairs = {}
        for w, c in zip(words, counts):
            for i in range(len(w) - 1):
                p = (w[i], w[i + 1])
                pairs[p] = pairs.get(p, 0) + c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < max(min_frequency, 1):
            break
        a, b = best
        s = vocab[a] + vocab[b]
        if s not in index:
            index[s] = len(vocab)
            vocab.append(s)
        new = index[s]
        merges.append([vocab[a], vocab[b]])
        for k, w in enumerate(words):
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[k] = out
    return vocab, merges


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(d, "cases.json")) as f:
        cases = json.load(f)
    pattern = gpt2_pattern()
    for c in cases:
        with open(os.path.join(d, c["corpus"]), "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        wc = count_words(text, pattern)
        vocab, merges = train(wc, c["vocab_size"], c["min_frequency"], c["special_tokens"])
        out = {"name": c["name"], "words": len(wc), "total_words": sum(wc.values()),
               "vocab": vocab, "merges": merges}
        with open(os.path.join(d, c["name"] + ".golden.json"), "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=0)
            f.write("\n")
        print("%s: %d words, %d merges, vocab %d" % (c["name"], len(wc), len(merges), len(vocab)))


if __name__ == "__main__":
    main()
