package tokenizer

import (
	"reflect"
	"sync"
	"testing"
)

var (
	bertOnce sync.Once
	bertTok  *WordPiece
	bertErr  error
)

// bert loads the real bert-base-uncased vocabulary from testdata.
func bert(t testing.TB) *WordPiece {
	t.Helper()
	bertOnce.Do(func() { bertTok, bertErr = LoadWordPiece("testdata/bert-base-uncased") })
	if bertErr != nil {
		t.Fatal(bertErr)
	}
	return bertTok
}

type goldenWP struct {
	Kind      string   `json:"kind"`
	Text      string   `json:"text"`
	A         string   `json:"a"`
	B         string   `json:"b"`
	MaxLen    int      `json:"max_len"`
	Tokens    []string `json:"tokens"`
	IDs       []int    `json:"ids"`
	TypeIDs   []int    `json:"type_ids"`
	Truncated bool     `json:"truncated"`
}

// checkWordPieceGolden runs the cases written by testdata/wordpiece_ref.py
// (Google BERT's tokenization semantics in Python) against tok.
func checkWordPieceGolden(t *testing.T, tok *WordPiece) {
	cases := readJSONLines[goldenWP](t, "testdata/bert-base-uncased/expected.jsonl")
	counts := map[string]int{}
	for _, c := range cases {
		counts[c.Kind]++
		switch c.Kind {
		case "single":
			if got := tok.Tokenize(c.Text); !reflect.DeepEqual(got, c.Tokens) && !(len(got) == 0 && len(c.Tokens) == 0) {
				t.Errorf("Tokenize(%q)\n got %q\nwant %q", c.Text, got, c.Tokens)
			}
			e := tok.Encode(c.Text, 0)
			if !reflect.DeepEqual(e.IDs, c.IDs) || e.Truncated {
				t.Errorf("Encode(%q).IDs = %v (truncated %v), want %v", c.Text, e.IDs, e.Truncated, c.IDs)
			}
		case "single_trunc":
			e := tok.Encode(c.Text, c.MaxLen)
			if !reflect.DeepEqual(e.IDs, c.IDs) || e.Truncated != c.Truncated {
				t.Errorf("Encode(%q, %d) = %v truncated %v, want %v truncated %v", c.Text, c.MaxLen, e.IDs, e.Truncated, c.IDs, c.Truncated)
			}
		case "pair":
			e := tok.EncodePair(c.A, c.B, c.MaxLen)
			if !reflect.DeepEqual(e.IDs, c.IDs) || !reflect.DeepEqual(e.TypeIDs, c.TypeIDs) || e.Truncated != c.Truncated {
				t.Errorf("EncodePair(%q, %q, %d)\n got %v %v %v\nwant %v %v %v", c.A, c.B, c.MaxLen,
					e.IDs, e.TypeIDs, e.Truncated, c.IDs, c.TypeIDs, c.Truncated)
			}
			if len(e.AttentionMask) != len(e.IDs) || len(e.Tokens) != len(e.IDs) {
				t.Errorf("EncodePair: %d ids, %d mask, %d tokens", len(e.IDs), len(e.AttentionMask), len(e.Tokens))
			}
		default:
			t.Fatalf("unknown golden kind %q", c.Kind)
		}
	}
	if counts["single"] < 150 || counts["pair"] < 100 || counts["single_trunc"] < 500 {
		t.Fatalf("too few golden cases: %v", counts)
	}
}

func TestWordPieceGolden(t *testing.T) { checkWordPieceGolden(t, bert(t)) }
