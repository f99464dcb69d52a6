#!/usr/bin/python3
"""Split the King James Bible, as the `bible` command of Debian's bible-kjv
package prints it, into loupe's default-model data.

    bible "Genesis 1:1-Revelation 22:21" | python3 defaults/kjv_split.py OUTDIR

The `bible` output (with COLUMNS large enough that no verse wraps) is a
heading line per chapter ("Genesis 1", "Psalms 150") followed by one line
per verse ("  1 In the beginning ..."). Every chapter whose number is a
multiple of 10 (Genesis 10, 20, ..., Psalms 150) is held out: never trained
on, used for validation and by retrieval work. Written to OUTDIR:

  train.txt     held-in chapters, one chapter per line (its verses joined by
                a space): the GPT-2's training documents
  heldout.txt   held-out chapters, in the same form
  words.txt     held-in verses, one per line, lower-cased, each word's
                leading and trailing ASCII punctuation stripped (what
                sentence-transformers' WhitespaceTokenizer looks up with
                do_lower_case): the word2vec corpus
  verses.jsonl  held-in verses, {"text": ..., "ref": "Genesis 1:1"}: the
                texts the README indexes
  heldout.jsonl held-out verses in the same form
"""

import json
import os
import re
import string
import sys

HEAD = re.compile(r"^(\S.*?) (\d+)$")
VERSE = re.compile(r"^\s+(\d+) (.*)$")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    chapters = []  # (book, chapter, [(verse, text)])
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        m = HEAD.match(line)
        if m:
            chapters.append((m.group(1), int(m.group(2)), []))
            continue
        m = VERSE.match(line)
        if not m or not chapters:
            sys.exit("unexpected line: %r" % line)
        chapters[-1][2].append((int(m.group(1)), m.group(2).strip()))
    if len(chapters) != 1189:
        sys.exit("want the 1189 chapters of the KJV, got %d" % len(chapters))
    files = {k: open(os.path.join(out, k), "w") for k in
             ("train.txt", "heldout.txt", "words.txt", "verses.jsonl", "heldout.jsonl")}
    held = 0
    for book, ch, verses in chapters:
        heldout = ch % 10 == 0
        held += heldout
        text = " ".join(t for _, t in verses)
        files["heldout.txt" if heldout else "train.txt"].write(text + "\n")
        for v, t in verses:
            rec = json.dumps({"text": t, "ref": "%s %d:%d" % (book, ch, v)}, ensure_ascii=False)
            files["heldout.jsonl" if heldout else "verses.jsonl"].write(rec + "\n")
            if not heldout:
                words = [w.strip(string.punctuation) for w in t.lower().split()]
                files["words.txt"].write(" ".join(w for w in words if w) + "\n")
    for f in files.values():
        f.close()
    print(json.dumps({"chapters": len(chapters), "held_out_chapters": held}))


if __name__ == "__main__":
    main()
