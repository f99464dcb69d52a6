#!/usr/bin/python3
"""Build the word2vec benchmark corpus from Debian's dict-gcide package.

Usage: word2vec_corpus.py [DICT] > corpus.txt

Reads /usr/share/dictd/gcide.dict.dz (gzip-compatible dictzip), splits it into
paragraphs at blank lines, lower-cases them and keeps the runs of a-z letters
as words: one paragraph per line, words separated by single spaces. Empty
paragraphs are dropped.
"""
import gzip
import re
import sys

WORD = re.compile(r"[a-z]+")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dictd/gcide.dict.dz"
    out = sys.stdout
    words = 0
    para = []

    def flush():
        nonlocal words
        if para:
            toks = WORD.findall(" ".join(para).lower())
            if toks:
                out.write(" ".join(toks))
                out.write("\n")
                words += len(toks)
            para.clear()

    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                para.append(line)
            else:
                flush()
    flush()
    print(f"corpus: {words} words", file=sys.stderr)


if __name__ == "__main__":
    main()
