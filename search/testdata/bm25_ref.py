#!/usr/bin/python3
"""Reference Okapi BM25 scores for search/bm25_test.go (TestBM25Golden).

Written from the formula, independently of loupe's code:

  tokens(text): text.lower(), split into maximal runs of characters whose
      Unicode category is a letter (L*) or a decimal digit (Nd); no stemming,
      no stop words.
  N      = number of documents, |d| = number of tokens of d,
  avgdl  = (sum of |d|) / N,
  df(t)  = number of documents holding t,
  idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))        (Lucene's)
  score(q, d) = sum over the tokens t of q, repeats counted, of
                idf(t) * f(t,d) * (k1 + 1) / (f(t,d) + k1 * (1 - b + b * |d| / avgdl))

Documents scoring 0 (holding no query token) are left out; the others are
ranked by score, highest first, ties by smaller document number.

Regenerate (from the repository root):
  /usr/bin/python3 search/testdata/bm25_ref.py > search/testdata/bm25_golden.json
"""
import json
import math
import unicodedata

DOCS = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "And God said, Let there be light: and there was light.",
    "Light, light, light! The light of the world.",
    "light",
    "The LORD is my shepherd; I shall not want.",
    "He maketh me to lie down in green pastures: he leadeth me beside the still waters.",
    "Yea, though I walk through the valley of the shadow of death, I will fear no evil.",
    "The lord's house, the Lord's table, the LORD'S people.",
    "A café on the Straße serves naïve coffee and crème brûlée.",
    "Café café CAFÉ; naïve NAÏVE.",
    "Ελληνικά γράμματα και λόγος: ο λόγος ήταν φως.",
    "日本語 のテキスト and some English words about light.",
    "Numbers 3:16 and 1 Corinthians 13:4 and 316 are different tokens.",
    "x1 x2 x3 x1 x1 abc123 abc123",
    "The quick brown fox jumps over the lazy dog.",
    "The quick brown fox jumps over the lazy dog.",
    "dog dog dog dog dog dog dog dog dog dog",
    "A very long document that mentions the fox only once, among a great many other words that pad it out "
    "so that its length is far above the average length of the corpus, which lowers its score under length "
    "normalisation when b is above zero and leaves it alone when b is zero.",
    "fox",
    "Waters, still waters, deep waters and the face of the waters.",
    "Darkness and light; light and darkness.",
    "And the evening and the morning were the first day.",
    "Blessed are the meek: for they shall inherit the earth.",
    "For God so loved the world, that he gave his only begotten Son.",
    "Jesus wept.",
    "",
    "--- ... !!! ,,,",
    "green green GREEN pastures pastures",
    "the the the the the the the the",
    "shepherd's crook and the shepherd",
    "Ünïcödé wörds: Éire, Ōsaka, Þór, Ærø.",
]

QUERIES = [
    "light",
    "the light of the world",
    "light light",
    "the lord is my shepherd",
    "café naïve",
    "λόγος φως",
    "日本語",
    "3:16",
    "x1 abc123",
    "quick brown fox",
    "dog",
    "still waters deep",
    "green pastures",
    "the",
    "Ærø Þór éire",
    "nothing matches zzz",
]

PARAMS = [(1.2, 0.75), (1.5, 0.0), (0.5, 1.0), (2.0, 0.3)]


def tokens(text):
    out, cur = [], []
    for ch in text.lower():
        cat = unicodedata.category(ch)
        if cat.startswith("L") or cat == "Nd":
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def bm25(docs, query, k1, b):
    toks = [tokens(d) for d in docs]
    n = len(docs)
    avgdl = sum(len(t) for t in toks) / n
    df = {}
    for t in toks:
        for term in set(t):
            df[term] = df.get(term, 0) + 1
    scores = []
    for i, t in enumerate(toks):
        s = 0.0
        for q in tokens(query):
            f = t.count(q)
            if f == 0:
                continue
            idf = math.log(1 + (n - df[q] + 0.5) / (df[q] + 0.5))
            s += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(t) / avgdl))
        if s > 0:
            scores.append((i, s))
    scores.sort(key=lambda p: (-p[1], p[0]))
    return scores


def main():
    results = []
    for k1, b in PARAMS:
        for q in QUERIES:
            results.append({"k1": k1, "b": b, "query": q, "tokens": tokens(q),
                            "hits": [[i, s] for i, s in bm25(DOCS, q, k1, b)]})
    print(json.dumps({"docs": DOCS, "doc_tokens": [tokens(d) for d in DOCS], "results": results},
                     ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
