#!/usr/bin/python3
"""gensim side of bench/word2vec.sh (Debian's python3-gensim).

Usage:
  word2vec_gensim.py train CORPUS OUT.bin MODE THREADS EPOCHS
      Train skip-gram (size 100, window 5, negative 5, sample 1e-3,
      min-count 5) with MODE "file" (corpus_file=, gensim's fastest path) or
      "iter" (a LineSentence iterator); print one JSON line with seconds
      (build_vocab + train, wall clock), words_per_second (raw corpus words
      x epochs / seconds) and vocab; save the vectors in the C binary format.
  word2vec_gensim.py eval VECTORS QUESTIONS RESTRICT
      Print gensim's evaluate_word_analogies total accuracy on the vectors
      file as JSON (correct, seen, accuracy).
"""
import json
import sys
import time


def train(corpus, out, mode, threads, epochs):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    kw = dict(sg=1, vector_size=100, window=5, negative=5, sample=1e-3, min_count=5,
              epochs=epochs, workers=threads, seed=1)
    t0 = time.perf_counter()
    if mode == "file":
        m = Word2Vec(corpus_file=corpus, **kw)
    else:
        m = Word2Vec(LineSentence(corpus), **kw)
    secs = time.perf_counter() - t0
    m.wv.save_word2vec_format(out, binary=True)
    print(json.dumps({"seconds": secs, "words_per_second": m.corpus_total_words * epochs / secs,
                      "vocab": len(m.wv), "corpus_words": m.corpus_total_words}))


def evaluate(vectors, questions, restrict):
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(vectors, binary=True)
    score, sections = kv.evaluate_word_analogies(questions, restrict_vocab=restrict)
    total = sections[-1]
    c, i = len(total["correct"]), len(total["incorrect"])
    print(json.dumps({"correct": c, "seen": c + i, "accuracy": score}))


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif sys.argv[1] == "eval":
        evaluate(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
