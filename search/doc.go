// Package search is semantic search over documents: it embeds texts with a
// sentence-embedding model (package embed), stores them in a vector index
// (package index) with their ids and JSON metadata, and answers questions
// with the nearest documents, optionally filtered by metadata.
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
// BM25 and hybrid (lexical + vector) ranking are planned on top of the same
// store: the texts are in the metadata, and SearchOptions can gain a mode.
//
// # Scores
//
// A hit carries the index's distance and a score: the cosine similarity
// (1 − distance) for cosine indexes, the dot product for dot indexes, the
// squared L2 distance for l2 indexes (lower is nearer).
//
// A Store is safe for concurrent searches; Add, Delete and Save must not
// run concurrently with each other or with searches. Changes made through
// one Store are not seen by another process until it saves; Update and
// Build take the index directory's lock for the whole read-change-save.
package search
