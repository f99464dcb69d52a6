package retrieval

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const goodManifest = `{"format":"loupe-rag","version":1,"chunk_tokens":64,
"lm":{"model":"loupe/kjv-gpt2","fingerprint":"sha256:00","vocab_size":8192},
"embed_model":"loupe/kjv-word2vec","chunks":3,"tokens":150,
"sources":[{"path":"a.txt","chunks":2,"tokens":100},{"path":"b.txt","chunks":1,"tokens":50}],"next_id":3}`

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(goodManifest), "rag.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.ChunkTokens != 64 || m.LM.VocabSize != 8192 || len(m.Sources) != 2 || m.Sources[1].Path != "b.txt" {
		t.Errorf("parsed %+v", m)
	}
	// What write writes, ParseManifest reads back.
	dir := t.TempDir()
	if err := m.write(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(dir)
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("read back %+v, %v", back, err)
	}
	for _, tc := range []struct{ edit, want string }{
		{`"format":"loupe-rag"|"format":"x"`, "format"},
		{`"version":1|"version":2`, "version"},
		{`"chunk_tokens":64|"chunk_tokens":0`, "chunk_tokens"},
		{`"fingerprint":"sha256:00"|"fingerprint":""`, "lm.fingerprint"},
		{`"vocab_size":8192|"vocab_size":-1`, "lm.vocab_size"},
		{`"embed_model":"loupe/kjv-word2vec"|"embed_model":""`, "embed_model"},
		{`"chunks":3|"chunks":4`, "chunks/tokens"},
		{`"path":"a.txt"|"path":""`, "sources[0]"},
		{`"chunks":1,"tokens":50|"chunks":60,"tokens":50`, "sources[1]"},
		{`"chunks":3|"chunks":3,"extra":1`, "extra"},
		{`"next_id":3}|"next_id":3} {}`, "after"},
		{`{"format"|["format"`, "rag.json"},
	} {
		from, to, _ := strings.Cut(tc.edit, "|")
		bad := strings.Replace(goodManifest, from, to, 1)
		if bad == goodManifest {
			t.Fatalf("edit %q changes nothing", tc.edit)
		}
		_, err := ParseManifest([]byte(bad), "rag.json")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("edit %q: error %v, want one naming %q", tc.edit, err, tc.want)
		}
	}
	if _, err := ReadManifest(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"loupe-rag","version":1,"chunk_tokens":1,"lm":{"fingerprint":"x","vocab_size":1},"embed_model":"m","chunks":0,"tokens":0,"sources":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data, "rag.json")
		if err != nil {
			return
		}
		// A manifest that parses is consistent and survives a round trip.
		if m.ChunkTokens < 1 || m.Chunks < 0 || m.LM.Fingerprint == "" {
			t.Fatalf("accepted %+v", m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(b, "again")
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v, %v", m2, err)
		}
	})
}
