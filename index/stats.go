package index

// Stats describes an index.
type Stats struct {
	Kind    Kind   `json:"kind"`
	Metric  Metric `json:"metric"`
	Dim     int    `json:"dim"`
	Count   int    `json:"count"`   // vectors searches can return
	Deleted int    `json:"deleted"` // marked deleted, still stored
	Model   string `json:"model,omitempty"`

	M              int `json:"M,omitempty"`
	MaxM0          int `json:"max_m0,omitempty"`
	EfConstruction int `json:"ef_construction,omitempty"`
	Ef             int `json:"ef,omitempty"`
	MaxLevel       int `json:"max_level,omitempty"`
	NTrees         int `json:"n_trees,omitempty"`
	LeafSize       int `json:"leaf_size,omitempty"`
	ForestNodes    int `json:"forest_nodes,omitempty"`

	VectorBytes   int64 `json:"vector_bytes"`   // float32 vectors
	StructBytes   int64 `json:"struct_bytes"`   // graph links or trees
	MetadataBytes int64 `json:"metadata_bytes"` // JSON metadata
	// Bytes is VectorBytes+StructBytes plus labels (8 bytes each), the
	// figure to compare with hnswlib's index size.
	Bytes     int64 `json:"bytes"`
	Mapped    bool  `json:"mapped"`               // opened from a file and not yet copied
	FileBytes int64 `json:"file_bytes,omitempty"` // size of the file opened
}

// Stats returns counts and sizes.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := int(x.nslots.Load())
	st := Stats{
		Kind: x.opts.Kind, Metric: x.opts.Metric, Dim: x.dim,
		Count: int(x.live.Load()), Deleted: int(x.ndeleted.Load()), Model: x.opts.Model,
		VectorBytes: int64(n) * int64(x.dim) * 4,
	}
	if x.closed {
		return st
	}
	for i := 0; i < n; i++ {
		st.MetadataBytes += int64(len(x.metaAt(uint32(i))))
	}
	x.algo.stats(&st, n)
	if x.opts.Kind == HNSW {
		st.Ef = x.opts.Ef
	}
	st.Bytes = st.VectorBytes + st.StructBytes + int64(n)*8
	if x.file != nil {
		st.Mapped = !x.cow
		st.FileBytes = x.file.size
	}
	return st
}
