"""Reference CLIP tokenizer and test vocabulary for package clip.

Regenerate (from the repository root):

    /usr/bin/python3 tokenizer/clip/testdata/clip_reference.py

transformers (and the `regex` module) are not installed where these goldens
were made, so this is a reimplementation of transformers' CLIPTokenizer
(tokenization_clip.py, the path without ftfy that diffusers pipelines take),
written from its source: BasicTokenizer(strip_accents=False,
do_split_on_punc=False) cleaning, CLIP's pre-tokenization pattern (built for
Python's `re` with Unicode category classes from unicodedata in place of
\\p{L} and \\p{N}), byte-level symbols with "</w>", the merge loop, special
tokens split out first, and padding="max_length", truncation=True.

It also trains the test vocabulary: a CLIP-format BPE (256 byte symbols,
their "</w>" forms, 3000 merges, <|startoftext|> and <|endoftext|>) on King
James Bible verses and a few prompt-like sentences, and writes it in the
layout of a diffusers tokenizer/ folder (vocab.json, merges.txt,
tokenizer_config.json, special_tokens_map.json) under testdata/vocab/.
"""
import gzip
import json
import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
NUM_MERGES = 3000


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def category_class(prefix):
    """A regex character class of every code point whose category starts with prefix."""
    ranges = []
    start = None
    for cp in range(sys.maxunicode + 1):
        ok = unicodedata.category(chr(cp)).startswith(prefix)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, sys.maxunicode))

    def esc(cp):
        return "\\U%08x" % cp

    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in ranges)


L = category_class("L")
N = category_class("N")
PAT = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[" + L + r"]+|[" + N + r"]|[^\s" + L + N + r"]+",
    re.IGNORECASE,
)


def is_whitespace(ch):
    if ch in " \t\n\r":
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokenize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        if is_whitespace(ch):
            out.append(" ")
        elif is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFC", "".join(out))
    return [w.lower() for w in text.strip().split()]


def pre_tokenize(text):
    text = " ".join(basic_tokenize(text))
    return ["".join(BYTE_ENCODER[b] for b in tok.encode("utf-8")) for tok in PAT.findall(text)]


class Reference:
    def __init__(self, vocab, merges, bos="<|startoftext|>", eos="<|endoftext|>", unk="<|endoftext|>", pad="<|endoftext|>", max_length=77):
        self.encoder = vocab
        self.ranks = {}
        for i, m in enumerate(merges):
            self.ranks[m] = i
        self.bos, self.eos, self.unk, self.pad = bos, eos, unk, pad
        self.max_length = max_length
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        # the added-tokens trie: leftmost, longest special token
        self.specials = sorted({bos, eos, unk, pad}, key=len, reverse=True)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        out = " ".join(word)
        self.cache[token] = out
        return out

    def tokenize(self, text):
        pieces = []
        while text:
            best, tok = -1, None
            for sp in self.specials:
                i = text.find(sp)
                if i >= 0 and (best < 0 or i < best):
                    best, tok = i, sp
            if best < 0:
                pieces.append((False, text))
                break
            if best > 0:
                pieces.append((False, text[:best]))
            pieces.append((True, tok))
            text = text[best + len(tok):]
        out = []
        for special, piece in pieces:
            if special:
                out.append(piece)
                continue
            for t in pre_tokenize(piece):
                out.extend(self.bpe(t).split(" "))
        return out

    def encode(self, text):
        unk = self.encoder[self.unk]
        return [self.encoder.get(t, unk) for t in self.tokenize(text)]

    def encode_padded(self, text):
        ids = self.encode(text)[: self.max_length - 2]
        ids = [self.encoder[self.bos]] + ids + [self.encoder[self.eos]]
        return ids + [self.encoder[self.pad]] * (self.max_length - len(ids))


PROMPTS = [
    "a photograph of an astronaut riding a horse",
    "a lighthouse at dusk, oil painting, highly detailed",
    "portrait of a young woman, soft light, 85mm, f/1.8",
    "a cat sitting on a windowsill in the rain",
    "a futuristic city skyline at night, neon lights, cyberpunk",
    "a bowl of fruit on a wooden table, still life",
    "an ancient temple in the jungle, volumetric light, trending on artstation",
    "a watercolor painting of a mountain lake at sunrise",
    "a red sports car driving through the desert",
    "a cozy cabin in the snowy woods, digital art",
]


def train():
    words = Counter()
    with gzip.open(os.path.join(ROOT, "defaults", "kjv", "verses.jsonl.gz"), "rt") as f:
        for line in f:
            for t in pre_tokenize(json.loads(line)["text"]):
                words[t] += 1
    for p in PROMPTS:
        for t in pre_tokenize(p):
            words[t] += 200
    syms = {}
    for w in words:
        syms[w] = list(w[:-1]) + [w[-1] + "</w>"]
    pair_counts = Counter()
    where = defaultdict(set)
    for w, c in words.items():
        s = syms[w]
        for a, b in zip(s, s[1:]):
            pair_counts[(a, b)] += c
            where[(a, b)].add(w)
    merges = []
    for _ in range(NUM_MERGES):
        if not pair_counts:
            break
        best = max(pair_counts, key=lambda p: (pair_counts[p], p))
        if pair_counts[best] <= 0:
            break
        merges.append(best)
        a, b = best
        for w in list(where[best]):
            s = syms[w]
            c = words[w]
            for x, y in zip(s, s[1:]):
                pair_counts[(x, y)] -= c
                if pair_counts[(x, y)] == 0:
                    del pair_counts[(x, y)]
            new = []
            i = 0
            while i < len(s):
                if i < len(s) - 1 and s[i] == a and s[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(s[i])
                    i += 1
            syms[w] = new
            for x, y in zip(new, new[1:]):
                pair_counts[(x, y)] += c
                where[(x, y)].add(w)
        where.pop(best, None)
    vocab_list = list(BYTE_ENCODER.values())
    vocab_list += [v + "</w>" for v in vocab_list]
    vocab_list += ["".join(m) for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {}
    for t in vocab_list:
        if t not in vocab:
            vocab[t] = len(vocab)
    return vocab, merges


CASES = [
    "a photograph of an astronaut riding a horse",
    "A Lighthouse at Dusk, OIL PAINTING!!!",
    "",
    "   ",
    "hello world",
    "don't stop; it's what we're doing, I'm sure they've, we'll, he'd",
    "'tis the season... 'S 'T 'RE",
    "In the beginning God created the heaven and the earth.",
    "the year 2024, 3.14159 and 1,000,000 stars",
    "numbers: 12345678901234567890",
    "café naïve résumé Ångström",
    "Straße ΟΔΥΣΣΕΥΣ İstanbul",
    "日本語のテキスト and 中文 mixed",
    "emoji 🎨🖌️ and symbols ©®™ ±×÷",
    "tabs\tand\nnewlines\r\nand  multiple   spaces",
    "control\x00chars\x07 here\u200b and\ufffd",
    "a <|endoftext|> in the middle and <|startoftext|> too",
    "UPPER <|ENDOFTEXT|> case special",
    "hyphen-ated words, semi;colons: and (parentheses) [brackets] {braces}",
    "#hashtag @mention http://example.com/path?q=1&r=2",
    "trailing punctuation!?!",
    "masterpiece, best quality, ultra-detailed, 8k, (extremely detailed CG unity 8k wallpaper)",
    "ﬁne ligatures and ＦＵＬＬＷＩＤＴＨ letters",
    "long'ſ fold 'ſ and the Kelvin 'K sign",
    " ".join(["a very long prompt about the king james bible and a lighthouse"] * 12),
    "And it came to pass, when men began to multiply on the face of the earth, and daughters were born unto them, "
    "That the sons of God saw the daughters of men that they were fair; and they took them wives of all which they chose.",
]


def random_texts(n, seed=16):
    """Random strings over an alphabet that exercises every branch: ASCII,
    apostrophes and contraction letters, digits, punctuation, whitespace
    and controls, accents, Greek capitals, Turkish dotted I, CJK, emoji,
    fullwidth letters, combining marks and special tokens."""
    import random

    rnd = random.Random(seed)
    pieces = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3 + list("0123456789") * 2
    pieces += list("'''''\".,;:!?-()[]{}<>|/\\@#$%^&*_+=~`")
    pieces += [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\x00", "\x07", "\u200b", "\ufffd", "\u00a0", "\u3000", "\u2028"]
    pieces += list("éèêëàâäïîôöùûüçñÉÀÖÅßøæœ") + list("ΣΟΔΥΕΑΒσςαβ") + ["\u0130", "\u0131"]
    pieces += list("日本語中文字漢") + ["\U0001f3a8", "\U0001f58c\ufe0f", "\U0001f44d\U0001f3fd", "\u2764"]
    pieces += list("ＡＢＣａｂｃ１２") + ["e\u0301", "a\u0308", "\ufb01", "\u017f", "\u212a"]
    pieces += ["<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "'s", "'T", "'re", "'LL", "'d", "'ve", "'m"]
    out = []
    for _ in range(n):
        k = rnd.randint(0, 40)
        out.append("".join(rnd.choice(pieces) for _ in range(k)))
    return out


def main():
    vocab, merges = train()
    vdir = os.path.join(HERE, "vocab")
    os.makedirs(vdir, exist_ok=True)
    with open(os.path.join(vdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(vdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(a + " " + b + "\n")
    with open(os.path.join(vdir, "tokenizer_config.json"), "w") as f:
        json.dump({
            "add_prefix_space": False,
            "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
            "do_lower_case": True,
            "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
            "errors": "replace",
            "model_max_length": 77,
            "pad_token": "<|endoftext|>",
            "tokenizer_class": "CLIPTokenizer",
            "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        }, f, indent=2)
    with open(os.path.join(vdir, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f, indent=2)

    sd1 = Reference(vocab, merges)
    sd2 = Reference(vocab, merges, pad="!")
    cases = []
    for text in CASES:
        cases.append({
            "text": text,
            "tokens": sd1.tokenize(text),
            "ids": sd1.encode(text),
            "padded": sd1.encode_padded(text),
            "tokens_sd2": sd2.tokenize(text),
            "padded_sd2": sd2.encode_padded(text),
        })
    texts = random_texts(400)
    with open(os.path.join(HERE, "random.json"), "w", encoding="utf-8") as f:
        json.dump([{"text": t, "ids": sd1.encode(t), "ids_sd2": sd2.encode(t)} for t in texts], f, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(HERE, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"num_merges": len(merges), "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
