// Package word2vec trains, stores and queries word embeddings the way the
// original word2vec C tool and gensim do.
//
// The simplest use trains vectors from a corpus on disk and saves them in the
// C tool's binary format, which gensim's KeyedVectors.load_word2vec_format
// reads:
//
//	vecs, stats, err := word2vec.Train(ctx, word2vec.DefaultOptions("corpus.txt"))
//	...
//	err = vecs.Save("vectors.bin", true)
//
// Training (Train) is skip-gram or CBOW with negative sampling and/or
// hierarchical softmax. The corpus is a text file, or a directory of text
// files, read again from disk on every epoch so it never has to fit in
// memory: each line is a sentence (split into pieces of at most
// MaxSentenceLength tokens, as gensim does) and tokens are separated by
// ASCII white space. The vocabulary keeps words seen at least MinCount times,
// most frequent first (ties in first-seen order); frequent words are
// subsampled with gensim's formula; every position gets a window shrunk by a
// random amount; the learning rate falls linearly from Alpha to MinAlpha over
// all epochs; negatives are drawn from the unigram distribution raised to
// the power 0.75. Several goroutines update the shared matrices without locks
// (Hogwild), as both reference implementations do; with one thread and a
// fixed Seed the result is deterministic.
//
// TrainSentences is the same trainer over sentences held in memory. The
// recommend package uses it for item2vec (sessions as sentences, items as
// words) with the options that serve recommenders: WholeSentence (every
// word of a sentence is a context of every other), GlobalContext (the
// sentence's last word, Airbnb's booked listing, is a context of every
// word) and Groups (half of the noise words drawn within the predicted
// word's group, Airbnb's in-market negatives).
//
// Options are checked once, when training starts; a value that means
// nothing is an *OptionError naming the field, the value and what is
// allowed, which a command line or an API maps to its own names. The hot
// loop runs on internal/kernels (Dot, Axpy, Axpy2, Prefetch), which choose
// their SIMD or generic variant once at start-up.
//
// Queries follow gensim's KeyedVectors: MostSimilar (3CosAdd over unit
// vectors, the query words excluded), MostSimilarCosmul (3CosMul with
// similarities shifted to [0,1]), Similarity and DoesntMatch. Evaluation
// counts like gensim's evaluate_word_analogies and evaluate_word_pairs
// (Evaluate does either or both). Their options work like Options: start
// from DefaultQueryOptions, DefaultEvalOptions, DefaultAnalogyOptions or
// DefaultPairsOptions; a zero TopN or Restrict is an *OptionError, not a
// default.
//
// Read and Save handle the text and binary word2vec formats;
// WriteSentenceTransformers writes the vectors as a sentence-transformers
// averaged-word-embeddings model (WordEmbeddings → mean Pooling), which
// package embed and sentence-transformers load. A *Vectors is
// safe for concurrent queries once loaded; training is not concurrent with
// queries.
package word2vec
