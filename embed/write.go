package embed

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/npy"
)

// WriteVectors writes the embeddings vecs of recs to path, atomically: a
// name ending in .npy gets a float32 matrix (one row per record, in order),
// any other name JSON lines (see WriteJSONLines).
func WriteVectors(path string, recs []Record, vecs [][]float32) error {
	if strings.HasSuffix(strings.ToLower(path), ".npy") {
		dim := 0
		if len(vecs) > 0 {
			dim = len(vecs[0])
		}
		flat := make([]float32, 0, len(vecs)*dim)
		for _, v := range vecs {
			flat = append(flat, v...)
		}
		return npy.WriteFloat32(path, flat, len(vecs), dim)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return WriteJSONLines(w, recs, vecs) })
}

// WriteJSONLines writes one JSON object per record: its metadata fields,
// "id" (the record's ID, or its 0-based row when it has none) and
// "embedding".
func WriteJSONLines(w io.Writer, recs []Record, vecs [][]float32) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i, r := range recs {
		obj := make(map[string]any, len(r.Meta)+2)
		for k, v := range r.Meta {
			obj[k] = v
		}
		obj["id"] = r.ID
		if r.ID == nil {
			obj["id"] = i
		}
		obj["embedding"] = vecs[i]
		if err := enc.Encode(obj); err != nil {
			return err
		}
	}
	return bw.Flush()
}
