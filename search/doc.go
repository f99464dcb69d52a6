// Package search is semantic search over documents: it embeds texts with a
// sentence-embedding model (package embed), stores them in a vector index
// (package index) with their ids and JSON metadata, and answers questions
// with the nearest documents, the best by BM25 over their texts, or a
// fusion of both (hybrid search), optionally filtered by metadata.
//
// The simplest use:
//
//	s, err := search.New(ctx, search.Options{Model: "sentence-transformers/all-MiniLM-L6-v2"})
//	_, err = s.Add(ctx, []search.Document{{Text: "How do I bake bread?"}, {Text: "Dogs bark"}}, search.AddOptions{})
//	hits, err := s.Search(ctx, "bread recipes", search.DefaultSearchOptions())
//	err = s.Save("docs.idx")
//
// and later, in another process, Open("docs.idx") and Search again: the
// index records the embedding model (a hub id, or a local directory as an
// absolute path), so questions are embedded with the model the documents
// were.
//
// # Documents and ids
//
// A Document is a text, an optional ID and optional metadata fields. Each
// document is stored as one vector with a uint64 vector id and a JSON
// object holding its metadata fields, its "text" and, when its ID is not a
// vector id, that ID as "id". An ID that is a non-negative integer is the
// vector id; any other ID (a string, say) is an external id kept in the
// metadata; documents with no integer ID get new vector ids after the
// largest the index ever held, so adding never replaces anything unless
// AddOptions.Replace is set (then a document whose ID is already stored
// replaces that document). Delete marks vector ids deleted.
//
// # Filters
//
// A Condition "key=value" keeps documents whose metadata has that
// top-level field equal to value: a string field compares as is, any other
// JSON value (number, boolean, null, array, object) by its JSON text (3,
// true). Several conditions must all hold. Conditions are parsed once
// (ParseCondition) and compiled once per search into a predicate over
// dictionary-coded metadata columns: the store decodes a document's JSON
// metadata the first time any filtered search visits it, and every later
// visit compares integers (the store drops its columns when Add or Delete
// changes it). CompileFilter does the same for any index, and
// QueryVectors searches an index directory with a file of query vectors
// under such a filter (loupe index query).
//
// # Modes: dense, BM25 and hybrid
//
// SearchOptions.Mode chooses how documents are ranked. ModeDense (the
// default) embeds the question and searches the vector index. ModeBM25
// ranks the documents' texts (their "text" metadata field) by Okapi BM25
// and never loads the embedding model. ModeHybrid takes the best
// Candidates documents of each ranking (default max(K, 100)) and fuses the
// two lists.
//
// BM25 is the classic Okapi formula with Lucene's idf: with N
// the number of searchable documents, df(t) the number holding term t,
// f(t, d) the count of t in document d, |d| the number of terms of d and
// avgdl the mean of |d| over the N documents,
//
//	idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))     (never negative)
//	score(q, d) = Σ_{t in q} idf(t) · f(t,d)·(k1 + 1) / (f(t,d) + k1·(1 − b + b·|d|/avgdl))
//
// where the sum runs over the question's terms with their repeats (a term
// given twice counts twice, as in rank_bm25), k1 = 1.2 and b = 0.75 unless
// SearchOptions.K1 and B say otherwise. Scores are those of rank_bm25's
// BM25Okapi with this idf, and (k1 + 1) times Lucene 8's, which drops that
// constant factor and quantises |d|. Terms are LexicalTokens: the text
// lower-cased (strings.ToLower) and cut into maximal runs of letters and
// digits, with no stemming and no stop words. Only documents holding a
// question term are returned (so BM25 may return fewer than K); equal
// scores are ordered by vector id. N, df and avgdl count the live
// documents (deleted ones are neither counted nor found), before any
// filter. The inverted index (postings of int32 document rows and term
// counts) is built in memory on the first bm25 or hybrid search and kept
// until Add or Delete change the store.
//
// Hybrid search fuses the two lists in one of two ways (Fusion):
//
//   - FusionRRF, reciprocal-rank fusion (the default, as Elasticsearch
//     and Qdrant do it): score = Σ 1/(RRFK + rank) over the lists that
//     hold the document, rank from 1, RRFK = 60 by default.
//   - FusionWeighted, relative-score fusion (Weaviate's
//     relativeScoreFusion): each list's scores are min–max normalised over
//     the list to [0, 1] ((s − min)/(max − min); every score is 1 when
//     they are all equal, as for a list of one), the dense list by its
//     distance (nearer is higher), and score = Alpha·dense + (1 −
//     Alpha)·bm25 with Alpha = 0.5 by default.
//
// A document found by one list only gets 0 from the other. Equal fused
// scores are ordered by vector id. Filters apply to both lists.
//
// # Scores
//
// A hit carries a score, higher is better except under l2: in dense mode
// the cosine similarity (1 − distance) for cosine indexes, the dot product
// for dot indexes, the squared L2 distance for l2 indexes (lower is
// nearer), with the index's distance beside it; in bm25 mode the BM25
// score; in hybrid mode the fused score, with each list's rank, score and
// contribution in Hit.Dense and Hit.BM25. Distance is 0 in the bm25 and
// hybrid modes. Dense hits of equal distance are ordered by vector id, and
// on a flat index the top k is exactly the k smallest (distance, id)
// pairs, whatever order the documents were added in (CanonicalOrder): the
// order that package shard's scatter-gather reproduces from the shards.
//
// A Store is safe for concurrent searches (in every mode); Add, Delete and Save must not
// run concurrently with each other or with searches. Changes made through
// one Store are not seen by another process until it saves; Update and
// Build take the index directory's lock for the whole read-change-save.
package search
