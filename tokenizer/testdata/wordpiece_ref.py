#!/usr/bin/python3
"""An independent reference for BERT's WordPiece tokenizer, written from the
semantics of Google's BERT tokenization.py (BasicTokenizer + WordpieceTokenizer,
as used by transformers' BertTokenizer) with Python's unicodedata and str.lower.

Usage: wordpiece_ref.py vocab.txt [--cased] [--singles] < corpus.jsonl > expected.jsonl

For every corpus string it writes {"kind": "single", "text", "tokens", "ids"}
(ids with [CLS] and [SEP]); then single strings truncated to a few lengths
({"kind": "single_trunc", "text", "max_len", "ids", "truncated"}) and pairs
({"kind": "pair", "a", "b", "max_len", "ids", "type_ids", "truncated"},
longest-first truncation, ties taken from the second sequence).
"""
import json, sys, unicodedata

MAX_CHARS = 100


def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lower):
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        cleaned.append(" " if is_whitespace(ch) else ch)
    spaced = []
    for ch in cleaned:
        if is_cjk(ord(ch)):
            spaced += [" ", ch, " "]
        else:
            spaced.append(ch)
    words = "".join(spaced).split()
    out = []
    for w in words:
        if lower:
            w = w.lower()
            w = "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn")
        cur = ""
        for ch in w:
            if is_punctuation(ch):
                if cur:
                    out.append(cur)
                    cur = ""
                out.append(ch)
            else:
                cur += ch
        if cur:
            out.append(cur)
    return out


def wordpiece(word, vocab):
    if len(word) > MAX_CHARS:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab, lower):
    return [p for w in basic_tokenize(text, lower) for p in wordpiece(w, vocab)]


def main():
    vocab_path = sys.argv[1]
    lower = "--cased" not in sys.argv[2:]
    with open(vocab_path, encoding="utf-8") as f:
        toks = [l.rstrip("\n") for l in f]
    vocab = {t: i for i, t in enumerate(toks)}
    corpus = [json.loads(l) for l in sys.stdin if l.strip()]
    out = []
    toked = []
    for text in corpus:
        t = tokenize(text, vocab, lower)
        toked.append(t)
        ids = [vocab["[CLS]"]] + [vocab[p] for p in t] + [vocab["[SEP]"]]
        out.append({"kind": "single", "text": text, "tokens": t, "ids": ids})
    if "--singles" in sys.argv[2:]:
        corpus = []
    for text, t in zip(corpus, toked):
        for max_len in (2, 3, 8, 16):
            keep = t[:max_len - 2]
            ids = [vocab["[CLS]"]] + [vocab[p] for p in keep] + [vocab["[SEP]"]]
            out.append({"kind": "single_trunc", "text": text, "max_len": max_len, "ids": ids,
                        "truncated": len(keep) < len(t)})
    for i in range(0, max(len(corpus) - 1, 0), 3):
        a, b = toked[i], toked[i + 1]
        for max_len in (0, 8, 12, 32):
            a2, b2 = list(a), list(b)
            if max_len:
                while len(a2) + len(b2) > max_len - 3 and (a2 or b2):
                    if len(a2) > len(b2):
                        a2.pop()
                    else:
                        b2.pop()
            ids = ([vocab["[CLS]"]] + [vocab[p] for p in a2] + [vocab["[SEP]"]]
                   + [vocab[p] for p in b2] + [vocab["[SEP]"]])
            type_ids = [0] * (len(a2) + 2) + [1] * (len(b2) + 1)
            out.append({"kind": "pair", "a": corpus[i], "b": corpus[i + 1], "max_len": max_len,
                        "ids": ids, "type_ids": type_ids,
                        "truncated": len(a2) + len(b2) < len(a) + len(b)})
    for o in out:
        sys.stdout.write(json.dumps(o, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
