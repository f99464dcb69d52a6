package knnlm

import "testing"

// FuzzParseManifest: ParseManifest never panics, and what it accepts
// passes its own checks again after a round trip.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":"loupe-knnlm","version":1,"model":"m","model_fingerprint":"ab","tokenizer_fingerprint":"cd","dim":8,"vocab_size":50,"max_length":16,"stride":8,"tokens":10,"keys":9,"index":"flat","metric":"l2","build_seconds":0.5}`))
	f.Add([]byte(`{"format":"loupe-knnlm","version":1}`))
	f.Add([]byte(`{"format":"loupe-knnlm","version":1,"model_fingerprint":"ab","tokenizer_fingerprint":"cd","dim":8,"vocab_size":50,"max_length":16,"stride":17,"tokens":10,"keys":9,"index":"hnsw","metric":"l2"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("accepted %q but check fails: %v", b, err)
		}
		if m.Keys != m.Tokens-1 || m.Stride > m.MaxLength {
			t.Fatalf("accepted inconsistent manifest %+v", m)
		}
	})
}
