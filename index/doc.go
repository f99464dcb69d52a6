// Package index stores vectors and finds the nearest ones to a query: exact
// search (Flat), an HNSW graph (as in hnswlib), or an Annoy-style forest of
// random-projection trees (Forest), under the cosine, dot-product or squared
// L2 distance.
//
// The simplest use builds an index in memory, searches it, and saves it:
//
//	opts := index.DefaultOptions()                            // HNSW, cosine, M=16, ef_construction=200
//	opts.Dim = 384
//	x, err := index.New(opts)
//	err = x.Add(index.Batch{Vectors: vecs})                    // ids 0, 1, 2, …
//	res, err := x.Search(q, 10, &index.SearchOptions{Ef: 64}) // []Result{ID, Distance}, nearest first
//	err = x.Save("my-index")                                  // my-index/index.loupe, atomically
//
// and later, in any number of processes at once:
//
//	x, err := index.Open("my-index") // mmap: instant, pages shared between processes
//	defer x.Close()
//
// # Parameters
//
// The names and defaults are hnswlib's and Annoy's: M (16; level 0 keeps up
// to maxM0 = 2·M links), ef_construction (200), ef (10; a search uses
// max(ef, k)), the level multiplier 1/ln(M) and seed 100; n_trees (10),
// search_k (n_trees·k) and a leaf size (64). Distances follow hnswlib's
// spaces: L2 is the squared Euclidean distance, Dot is 1 − a·b ('ip'), and
// Cosine normalises vectors once when they are added and is 1 − a·b on the
// unit vectors.
//
// # Ids, metadata, deletion and filters
//
// Vectors carry uint64 ids (default 0, 1, 2, …) and optionally a JSON object
// of metadata, returned by Metadata and visible to filters; Text returns its
// "text" field, which loupe search prints. Delete marks ids deleted as
// hnswlib's markDelete does: the graph keeps them for navigation but no
// search returns them. Adding an existing id replaces its vector; with
// Options.AllowReplaceDeleted new ids reuse deleted slots. Searches take an
// allow-list of ids or a predicate over (id, metadata) and keep exploring
// until they have k allowed results or run out of candidates.
//
// NextID is the id Add gives the next vector without one: one past the
// largest id the index has held, deleted ones included, so default ids never
// reuse an id. Has reports whether an id is present and not deleted; loupe
// index add uses both to append by default and to refuse explicit ids that
// are already present unless --replace is given.
//
// Bad input is an error, never a panic: a dimension mismatch (ErrDim),
// NaN or infinite values, a zero vector under cosine, an unknown metric or
// kind, an empty index (ErrEmpty) and, as in hnswlib (which raises), k
// larger than the number of vectors (ErrKTooLarge). Filtered searches may
// return fewer than k results.
//
// # Concurrency
//
// Every method is safe for concurrent use. Searches run in parallel with
// each other and with Add of new ids, which itself inserts on
// Options.Threads goroutines; graph links are read with atomic loads and
// written under per-node (striped) locks, like hnswlib's link-list locks.
// Replacing an existing id's vector, Save and Close run alone.
//
// Between processes, Open and searches need no coordination: Save replaces
// the file atomically and a reader keeps the mapping it opened. Writers that
// read an index, change it and save it must not overlap, or the later save
// drops the earlier one's changes: LockDir takes an exclusive advisory lock
// (flock on Unix, LockFileEx on Windows, none elsewhere) on DIR/index.lock,
// and loupe index add, delete and build hold it from Open to Save. A save
// killed before its rename leaves its temporary file (.index.loupe.tmp-NNN);
// whoever next holds the lock removes it: LockDir, and Open and Save, which
// take the lock for that when no one holds it.
//
// # File format (version 1)
//
// An index directory holds one file, index.loupe, written atomically
// (temporary file, fsync, rename), and the empty lock file index.lock once a
// writer has locked it (Save takes the lock too). All integers are little-endian.
//
//	offset 0   "LOUPEIDX"
//	       8   uint32 format version (1)
//	       12  uint32 number of sections S
//	       16  uint32 CRC-32C of bytes 0–15, 20–63 and the section table
//	       24  uint64 file size
//	       32  reserved (zero) up to 64
//	       64  section table: S entries of 48 bytes:
//	           name [24]byte (NUL-padded), offset uint64, length uint64,
//	           CRC-32C uint32 of the section's bytes, 4 bytes zero
//	then the sections, each starting on a 64-byte boundary:
//
//	manifest   JSON: format "loupe-index", version, kind, metric, dim,
//	           count (n, deleted included), next_id, M, max_m0,
//	           ef_construction, ef, seed, n_trees, leaf_size,
//	           allow_replace_deleted, model (embedding model ref), entry,
//	           max_level
//	vectors    n·dim float32, row-major (unit length under cosine)
//	labels     n uint64 ids
//	flags      n bytes, bit 0 = deleted
//	meta_off   n+1 uint64 offsets into meta; element i's JSON is
//	           meta[meta_off[i]:meta_off[i+1]] (empty = none)
//	meta       concatenated JSON objects
//	HNSW only:
//	levels     n bytes, each element's top level
//	link0      n blocks of max_m0+1 uint32: count, then neighbour elements
//	upper_off  n uint64: word offset in upper of an element's blocks
//	upper      for each element with level L > 0, L blocks of M+1 uint32
//	           (levels 1..L), each count then neighbours
//	Forest only:
//	ftrees     n_trees uint32 node counts
//	fnodes     per node 6 uint32: left, right (node indices in its tree),
//	           plane index (0xFFFFFFFF for a leaf), offset (float32 bits),
//	           first item, item count
//	planes     dim float32 per split node (unit normal)
//	items      leaf contents, element indices
//
// Elements are positions 0..n-1; labels maps them to ids. Open checks the
// header, the table, the manifest and the per-element tables (levels,
// flags, offsets, trees) and range-checks links and items as searches read
// them; OpenOptions.Verify (loupe index stats --verify) also checks the
// CRCs of the vectors and links. Any damage is an error wrapping
// ErrCorrupt.
//
// # What is partial
//
// Re-adding an existing id re-links the element from its new position but
// does not repair the lists of elements that pointed at the old one (hnswlib's
// updatePoint does). Forest items that move keep a stale leaf entry. The
// forest's dot metric splits with Euclidean hyperplanes.
package index
