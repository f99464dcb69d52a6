package retrieval

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		n, size int
		want    []Span
	}{
		{0, 4, nil},
		{3, 0, nil},
		{3, 4, []Span{{0, 3, 3}}},                       // one short chunk, no continuation
		{4, 4, []Span{{0, 4, 4}}},                       // exactly one chunk
		{5, 4, []Span{{0, 4, 5}, {4, 5, 5}}},            // last chunk shorter, its continuation empty
		{8, 4, []Span{{0, 4, 8}, {4, 8, 8}}},            // exact boundaries
		{9, 4, []Span{{0, 4, 8}, {4, 8, 9}, {8, 9, 9}}}, // a continuation shorter than N
		{3, 1, []Span{{0, 1, 2}, {1, 2, 3}, {2, 3, 3}}},
	} {
		got := Split(tc.n, tc.size)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%d, %d) = %v, want %v", tc.n, tc.size, got, tc.want)
		}
	}
	// Every token is in exactly one chunk, in order, and each
	// continuation is the next chunk.
	for n := 1; n < 50; n++ {
		for size := 1; size < 12; size++ {
			spans := Split(n, size)
			pos := 0
			for i, s := range spans {
				if s.Start != pos || s.Len() < 1 || s.Len() > size || (i < len(spans)-1 && s.Len() != size) {
					t.Fatalf("Split(%d, %d)[%d] = %v", n, size, i, s)
				}
				if i+1 < len(spans) && s.ContEnd != spans[i+1].End {
					t.Fatalf("Split(%d, %d)[%d] continuation %v, next chunk %v", n, size, i, s, spans[i+1])
				}
				pos = s.End
			}
			if pos != n || spans[len(spans)-1].ContEnd != n {
				t.Fatalf("Split(%d, %d) ends at %d", n, size, pos)
			}
		}
	}
}

func TestChunkDocs(t *testing.T) {
	tok := defaultTokenizer(t)
	text := strings.Repeat("In the beginning God created the heaven and the earth. ", 7) + "Amen."
	ids := tok.Encode(text)
	for _, size := range []int{1, 5, 16, 64, len(ids), len(ids) + 3} {
		docs, n := chunkDocs(tok, text, "gen.txt", size)
		if n != len(ids) || len(docs) != (len(ids)+size-1)/size {
			t.Fatalf("size %d: %d tokens, %d chunks; want %d tokens", size, n, len(docs), len(ids))
		}
		var joined strings.Builder
		for i, d := range docs {
			joined.WriteString(d.Text)
			m := d.Meta
			if m["source"] != "gen.txt" || m["chunk"] != i || m["offset"] != i*size {
				t.Fatalf("size %d chunk %d: metadata %v", size, i, m)
			}
			wantTok := min(size, len(ids)-i*size)
			if m["tokens"] != wantTok || d.Text != tok.Decode(ids[i*size:i*size+wantTok]) {
				t.Fatalf("size %d chunk %d: %v tokens %q", size, i, m["tokens"], d.Text)
			}
			if i+1 < len(docs) {
				if m["continuation"] != docs[i+1].Text || m["continuation_tokens"] != docs[i+1].Meta["tokens"] {
					t.Fatalf("size %d chunk %d: continuation %q, next chunk %q", size, i, m["continuation"], docs[i+1].Text)
				}
			} else if m["continuation"] != "" || m["continuation_tokens"] != 0 {
				t.Fatalf("size %d: last chunk's continuation %q", size, m["continuation"])
			}
		}
		if joined.String() != text {
			t.Fatalf("size %d: chunks join to %q", size, joined.String())
		}
	}
}
