package sentencepiece

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// goldenModels are the models of ../testdata/spm, made by make.py there.
var goldenModels = []string{
	"unigram", "unigram-bytes", "unigram-identity", "unigram-nfkc-ws", "unigram-custom",
	"bpe", "bpe-bytes-identity", "bpe-userdef", "bpe-suffix", "unigram-denorm", "t5",
}

const spmTestdata = "../testdata/spm"

type goldenCase struct {
	IDs     []int    `json:"ids"`
	Pieces  []string `json:"pieces"`
	Decoded string   `json:"decoded"`
}

func readJSONLines[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readCases(t testing.TB) []string {
	return readJSONLines[string](t, filepath.Join(spmTestdata, "cases.jsonl"))
}

// TestGolden checks ids, pieces and decoded text against python3-sentencepiece
// on every case of the case set, for every test model.
func TestGolden(t *testing.T) {
	cases := readCases(t)
	if len(cases) < 300 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			p, err := Load(filepath.Join(spmTestdata, name+".model"))
			if err != nil {
				t.Fatal(err)
			}
			want := readJSONLines[goldenCase](t, filepath.Join(spmTestdata, name+".expected.jsonl"))
			if len(want) != len(cases) {
				t.Fatalf("%d expectations for %d cases", len(want), len(cases))
			}
			bad := 0
			for i, c := range cases {
				toks := p.Encode(c)
				ids := make([]int, len(toks))
				pieces := make([]string, len(toks))
				for j, tk := range toks {
					ids[j], pieces[j] = tk.ID, tk.Piece
				}
				w := want[i]
				if w.IDs == nil {
					w.IDs = []int{}
				}
				if w.Pieces == nil {
					w.Pieces = []string{}
				}
				if !slices.Equal(ids, w.IDs) || !slices.Equal(pieces, w.Pieces) {
					bad++
					if bad <= 5 {
						t.Errorf("case %d %q (normalized %q):\n got %v %q\nwant %v %q", i, c, p.Normalize(c), ids, pieces, w.IDs, w.Pieces)
					}
				}
				if got := p.Decode(w.IDs); got != w.Decoded {
					bad++
					if bad <= 5 {
						t.Errorf("case %d %q: Decode(%v) = %q, want %q", i, c, w.IDs, got, w.Decoded)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d cases differ", bad, len(cases))
			}
		})
	}
}

// TestConcurrent encodes the case set from four goroutines at once with a
// Unigram and a BPE model (whose word cache is shared); run with -race.
func TestConcurrent(t *testing.T) {
	cases := readCases(t)
	for _, name := range []string{"unigram-bytes", "bpe"} {
		p, err := Load(filepath.Join(spmTestdata, name+".model"))
		if err != nil {
			t.Fatal(err)
		}
		want := readJSONLines[goldenCase](t, filepath.Join(spmTestdata, name+".expected.jsonl"))
		errs := make(chan string, 4)
		for g := 0; g < 4; g++ {
			go func() {
				for r := 0; r < 3; r++ {
					for i, c := range cases {
						if got := p.EncodeIDs(c); !slices.Equal(got, want[i].IDs) && !(len(got) == 0 && len(want[i].IDs) == 0) {
							errs <- fmt.Sprintf("%s case %d: %v, want %v", name, i, got, want[i].IDs)
							return
						}
					}
				}
				errs <- ""
			}()
		}
		for g := 0; g < 4; g++ {
			if e := <-errs; e != "" {
				t.Error(e)
			}
		}
	}
}

// TestDifferential compares with the files that
// ../testdata/spm/differential.py writes (46,102 texts per model) when
// LOUPE_SPM_DIFF names their folder; it is skipped otherwise.
func TestDifferential(t *testing.T) {
	dir := os.Getenv("LOUPE_SPM_DIFF")
	if dir == "" {
		t.Skip("LOUPE_SPM_DIFF not set")
	}
	for _, m := range []string{"t5", "bpe", "unigram-bytes", "bpe-bytes-identity", "bpe-userdef", "unigram-nfkc-ws"} {
		p, err := Load(filepath.Join(spmTestdata, m+".model"))
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			T   string
			IDs []int
			D   string
		}
		rows := readJSONLines[row](t, filepath.Join(dir, m+".jsonl"))
		bad := 0
		for _, r := range rows {
			got := p.EncodeIDs(r.T)
			if (len(got) > 0 || len(r.IDs) > 0) && !slices.Equal(got, r.IDs) || p.Decode(r.IDs) != r.D {
				if bad++; bad <= 3 {
					t.Errorf("%s %q: %v, want %v; Decode %q, want %q", m, r.T, got, r.IDs, p.Decode(r.IDs), r.D)
				}
			}
		}
		t.Logf("%s: %d texts, %d differ", m, len(rows), bad)
	}
}
