package seq2seq

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/hub"
)

// goldenCase is one case of testdata/golden.json (testdata/reference.py).
type goldenCase struct {
	Name     string  `json:"name"`
	Model    string  `json:"model"`
	Source   []int   `json:"source"`
	Settings golden  `json:"settings"`
	IDs      []int   `json:"ids"`
	Seqs     [][]int `json:"sequences"`
	Scores   []float64
	RawScore []float64 `json:"sequences_scores"`
}

// golden are a case's settings; a JSON null for a forced id turns the
// model's off.
type golden struct {
	MaxLength          *int            `json:"max_length"`
	NumBeams           *int            `json:"num_beams"`
	LengthPenalty      *float64        `json:"length_penalty"`
	NoRepeatNGramSize  *int            `json:"no_repeat_ngram_size"`
	NumReturnSequences *int            `json:"num_return_sequences"`
	MinLength          *int            `json:"min_length"`
	RepetitionPenalty  *float64        `json:"repetition_penalty"`
	BadWordsIDs        [][]int         `json:"bad_words_ids"`
	ForcedBOS          json.RawMessage `json:"forced_bos_token_id"`
	ForcedEOS          json.RawMessage `json:"forced_eos_token_id"`
}

func tinyDir(name string) string {
	if name == "tiny-t5" {
		return filepath.Join("..", "model", "t5", "testdata", name)
	}
	return filepath.Join("..", "model", "bart", "testdata", name)
}

func loadTiny(t *testing.T, name string) *Pipeline {
	t.Helper()
	p, err := Load(context.Background(), tinyDir(name), LoadOptions{Hub: hub.NewClient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestGolden: greedy and beam search ids (and beam scores) equal the
// PyTorch reference's, written from transformers' generate semantics for
// encoder-decoders.
func TestGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 6 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			p := loadTiny(t, c.Model)
			g := c.Settings
			s := generate.Settings{Seed: new(uint64)}
			s.DoSample = new(false)
			s.MaxLength, s.NumBeams, s.LengthPenalty = g.MaxLength, g.NumBeams, g.LengthPenalty
			s.NoRepeatNGramSize, s.NumReturnSequences, s.MinLength = g.NoRepeatNGramSize, g.NumReturnSequences, g.MinLength
			s.RepetitionPenalty, s.BadWordsIDs = g.RepetitionPenalty, g.BadWordsIDs
			if err := forcedSetting(&s.ForcedBOSTokenID, &p.Config.ForcedBOSTokenID, g.ForcedBOS); err != nil {
				t.Fatal(err)
			}
			var eos *int
			if err := forcedSetting(&eos, new(*int), g.ForcedEOS); err != nil {
				t.Fatal(err)
			}
			if eos != nil {
				s.ForcedEOSTokenIDs = []int{*eos}
			} else if string(g.ForcedEOS) == "null" {
				p.Config.ForcedEOSTokenIDs = nil
			}
			out, err := p.RunIDs(context.Background(), c.Source, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Seqs == nil {
				if len(out.Sequences) != 1 || !slices.Equal(out.Sequences[0].IDs, c.IDs) {
					t.Errorf("ids %v, want %v", out.Sequences[0].IDs, c.IDs)
				}
				return
			}
			if len(out.Sequences) != len(c.Seqs) {
				t.Fatalf("%d sequences, want %d", len(out.Sequences), len(c.Seqs))
			}
			for i, sq := range out.Sequences {
				if !slices.Equal(sq.IDs, c.Seqs[i]) {
					t.Errorf("sequence %d: %v, want %v", i, sq.IDs, c.Seqs[i])
				}
				if d := math.Abs(float64(sq.Score) - c.RawScore[i]); d > 1e-4*max(1, math.Abs(c.RawScore[i])) {
					t.Errorf("sequence %d: score %g, want %g", i, sq.Score, c.RawScore[i])
				}
			}
		})
	}
}

// forcedSetting reads a forced id of a case: absent leaves *set nil, a
// number sets it, null turns the model's file value off (*file = nil).
func forcedSetting(set **int, file **int, raw json.RawMessage) error {
	switch {
	case raw == nil:
	case string(raw) == "null":
		*file = nil
	default:
		var v int
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		*set = &v
	}
	return nil
}
