#!/usr/bin/python3
"""Writes random_corpus.jsonl: 1000 seeded random strings built from pieces
that stress the GPT-2 pre-tokenizer (every kind of whitespace, letters,
digits and marks of many scripts, symbols, emoji, apostrophes, contraction
fragments). Used with gpt2_ref.py (see make_expected.sh)."""
import json, os, random

rng = random.Random(20261125)
pieces = [
    " ", "  ", "\t", "\n", "\r\n", "\u000b", "\u000c", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2009", "\u200a",
    "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\u200b", "\u180e",
    "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "’",
    "a", "the", "The", "HELLO", "x", "é", "e\u0301", "ß", "İ", "Σ", "ω", "Ж", "ж", "א", "ع", "क", "ि", "्", "ท", "ั",
    "日", "本", "語", "の", "カ", "한", "ㄱ", "ᄀ", "ꙮ", "ǅ", "ʰ", "ᵃ", "ª", "º", "µ",
    "0", "42", "٣", "१", "৩", "๓", "²", "½", "Ⅻ", "ⅻ", "〇", "𝟘", "①", "𐄇",
    ".", ",", "!", "?", "-", "_", "(", ")", "{", "}", "<|endoftext|>", "@", "#", "$", "%", "^", "&", "*", "+", "=",
    "~", "`", "|", "\\", "/", "\"", ";", ":", "…", "—", "«", "»", "¿", "•", "©", "€", "\u0000", "\u001b", "\u007f",
    "😀", "🤗", "👍🏽", "👨‍👩‍👧", "🇩🇪", "❤️", "\u0301", "\u20dd", "\ufe0f", "\U0001F600", "\U00010000", "\U0001E5D0", "\U000E0001",
    "\ud7ff", "\ue000", "\uffff", "\ufffd",
]
out = []
for _ in range(1000):
    out.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))))
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "random_corpus.jsonl"), "w", encoding="utf-8") as f:
    for s in out:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")
print(len(out), "random strings")
