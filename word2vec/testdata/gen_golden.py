#!/usr/bin/python3
"""Regenerate the word2vec golden files with Debian's python3-gensim.

Run from the repository root:
    /usr/bin/python3 word2vec/testdata/gen_golden.py /work/shared/data/questions-words.txt

It builds a small corpus from the GCIDE dictionary (bench/word2vec_corpus.py,
first 1,500,000 words), trains gensim skip-gram vectors (size 16, 1 thread,
seed 1), keeps the 5,000 most frequent words and writes:

  vectors.txt, vectors.bin  the same vectors in gensim's text and binary formats
  questions.txt             of every section of questions-words.txt, the
                            questions whose words are all in the vocabulary
                            (any case) and the first 15 others
  pairs.tsv                 120 word pairs with made-up scores
  golden.json               gensim's most_similar, most_similar_cosmul,
                            similarity, doesnt_match, evaluate_word_analogies
                            and evaluate_word_pairs on vectors.txt
"""
import json
import os
import random
import subprocess
import sys
import tempfile

from gensim.models import KeyedVectors, Word2Vec

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
questions_src = sys.argv[1]

with tempfile.TemporaryDirectory() as tmp:
    full = subprocess.run([sys.executable, os.path.join(root, "bench", "word2vec_corpus.py")],
                          check=True, capture_output=True, text=True).stdout.split("\n")
    corpus = os.path.join(tmp, "c.txt")
    n = 0
    with open(corpus, "w") as f:
        for line in full:
            if n >= 1500000:
                break
            f.write(line + "\n")
            n += len(line.split())
    m = Word2Vec(corpus_file=corpus, sg=1, vector_size=16, window=5, negative=5, min_count=5,
                 epochs=5, workers=1, seed=1)
    kv = KeyedVectors(16)
    keys = m.wv.index_to_key[:5000]
    kv.add_vectors(keys, m.wv.vectors[:5000])
kv.save_word2vec_format(os.path.join(here, "vectors.txt"), binary=False)
kv.save_word2vec_format(os.path.join(here, "vectors.bin"), binary=True)
kv = KeyedVectors.load_word2vec_format(os.path.join(here, "vectors.txt"), binary=False)

vocab = set(kv.index_to_key)
out = []
count = 0
with open(questions_src) as f:
    for line in f:
        if line.startswith(": "):
            out.append(line)
            count = 0
        elif all(w.lower() in vocab for w in line.split()):
            out.append(line)
        elif count < 15:
            out.append(line)
            count += 1
with open(os.path.join(here, "questions.txt"), "w") as f:
    f.writelines(out)

rng = random.Random(7)
words = kv.index_to_key
with open(os.path.join(here, "pairs.tsv"), "w") as f:
    f.write("# word1\tword2\tscore (made up)\n")
    for i in range(120):
        a, b = rng.choice(words[:300]), rng.choice(words)
        if i % 10 == 0:
            b = "zzunknownzz"
        if i % 17 == 0:
            a = a.upper()
        f.write(f"{a}\t{b}\t{rng.randint(0, 100) / 10}\n")

g = {}
queries = [
    {"positive": ["king"], "negative": []},
    {"positive": ["water"], "negative": []},
    {"positive": ["man", "woman"], "negative": []},
    {"positive": ["father", "woman"], "negative": ["man"]},
    {"positive": ["small", "great"], "negative": ["large"]},
    {"positive": ["good"], "negative": ["bad"]},
]
g["most_similar"] = [dict(q, topn=10, result=kv.most_similar(positive=q["positive"], negative=q["negative"], topn=10)) for q in queries]
g["most_similar_restrict"] = [dict(q, topn=5, restrict=200, result=kv.most_similar(positive=q["positive"], negative=q["negative"], topn=5, restrict_vocab=200)) for q in queries]
g["most_similar_cosmul"] = [dict(q, topn=10, result=kv.most_similar_cosmul(positive=q["positive"], negative=q["negative"], topn=10)) for q in queries]
g["similarity"] = [{"a": a, "b": b, "result": float(kv.similarity(a, b))} for a, b in [("king", "son"), ("water", "fire"), ("man", "man"), ("good", "bad")]]
g["doesnt_match"] = [{"words": w, "result": kv.doesnt_match(w)} for w in [["man", "woman", "child", "water"], ["red", "green", "blue", "king"], ["one", "two", "three", "house"]]]
analogies = []
for restrict, ci in [(300000, True), (2000, True), (5000, False)]:
    score, sections = kv.evaluate_word_analogies(os.path.join(here, "questions.txt"), restrict_vocab=restrict, case_insensitive=ci)
    analogies.append({"restrict": restrict, "case_insensitive": ci, "score": score,
                      "sections": [{"section": s["section"], "correct": len(s["correct"]), "incorrect": len(s["incorrect"])} for s in sections]})
g["analogies"] = analogies
pearson, spearman, oov = kv.evaluate_word_pairs(os.path.join(here, "pairs.tsv"))
g["pairs"] = {"pearson": float(pearson[0]), "spearman": float(spearman[0]), "oov_ratio": oov}
with open(os.path.join(here, "golden.json"), "w") as f:
    json.dump(g, f, indent=1)
print("wrote", here)
