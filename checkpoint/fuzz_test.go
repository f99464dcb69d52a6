package checkpoint

import (
	"strings"
	"testing"
)

// FuzzParseIndex checks that index parsing never panics and that an accepted
// index maps at least one tensor, each to a plain file name.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata": {"total_size": 14}, "weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map": {"a": "x", "a": "y"}}`))
	f.Add([]byte(`{"weight_map": {"a": "../x"}}`))
	f.Add([]byte(`{"weight_map": []}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseIndex("fuzz", b)
		if err != nil {
			return
		}
		if len(x.WeightMap) == 0 || len(x.Shards()) == 0 {
			t.Fatalf("accepted an empty index")
		}
		for k, v := range x.WeightMap {
			if v == "" || v == ".." || strings.ContainsAny(v, "/\\") {
				t.Fatalf("weight_map[%q] = %q accepted", k, v)
			}
		}
	})
}
