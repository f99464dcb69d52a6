package generate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseGenerationConfig(t *testing.T) {
	g, err := ParseGenerationConfig([]byte(`{
		"_from_model_config": true, "transformers_version": "4.46.0",
		"do_sample": true, "temperature": 0.7, "top_k": 0, "top_p": 0.9, "min_p": null,
		"typical_p": 1.0, "repetition_penalty": 1.3, "no_repeat_ngram_size": 3,
		"max_new_tokens": 40, "max_length": 100, "min_new_tokens": 5, "min_length": 0, "num_beams": 4, "num_return_sequences": 2,
		"length_penalty": -0.5, "early_stopping": "never",
		"eos_token_id": [50256, 198], "bos_token_id": 50256, "pad_token_id": 0}`), 50257)
	if err != nil {
		t.Fatal(err)
	}
	if !*g.DoSample || *g.Temperature != 0.7 || *g.TopK != 0 || *g.TopP != 0.9 || g.MinP != nil ||
		*g.TypicalP != 1 || *g.RepetitionPenalty != 1.3 || *g.NoRepeatNGramSize != 3 ||
		*g.MaxNewTokens != 40 || *g.MaxLength != 100 || *g.MinNewTokens != 5 || *g.MinLength != 0 || *g.NumBeams != 4 || *g.NumReturnSequences != 2 ||
		*g.LengthPenalty != -0.5 || *g.EarlyStopping != EarlyStopNever ||
		!slices.Equal(g.EOSTokenIDs, []int{50256, 198}) || *g.BOSTokenID != 50256 || *g.PadTokenID != 0 {
		t.Errorf("parsed %+v", g)
	}
	// gpt2's own file: only token ids.
	g, err = ParseGenerationConfig([]byte(`{"_from_model_config": true, "bos_token_id": 50256, "eos_token_id": 50256, "transformers_version": "4.26.0.dev0"}`), 50257)
	if err != nil || g.DoSample != nil || g.NumBeams != nil || g.MinNewTokens != nil || g.MinLength != nil || !slices.Equal(g.EOSTokenIDs, []int{50256}) {
		t.Errorf("gpt2's file: %+v, %v", g, err)
	}
	for _, es := range []struct {
		json string
		want EarlyStopping
	}{{"true", EarlyStopOn}, {"false", EarlyStopHeuristic}, {`"never"`, EarlyStopNever}} {
		g, err := ParseGenerationConfig([]byte(`{"early_stopping": `+es.json+`}`), 10)
		if err != nil || *g.EarlyStopping != es.want {
			t.Errorf("early_stopping %s: %v, %v", es.json, g.EarlyStopping, err)
		}
	}
}

func TestParseGenerationConfigErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`[1, 2]`, "not a JSON object"},
		{`{"do_sample": "yes"}`, `do_sample "yes": want true or false`},
		{`{"temperature": -1}`, `temperature -1: want a positive number`},
		{`{"top_k": -3}`, `top_k -3: want 0 (off) or a positive integer`},
		{`{"top_k": 2.5}`, `top_k `},
		{`{"top_p": 1.5}`, `top_p`},
		{`{"min_p": 2}`, `min_p `},
		{`{"typical_p": 0}`, `typical_p `},
		{`{"repetition_penalty": 0}`, `repetition_penalty`},
		{`{"no_repeat_ngram_size": -1}`, `no_repeat_ngram_size `},
		{`{"max_new_tokens": 0}`, `max_new_tokens 0: want a positive integer`},
		{`{"max_length": "20"}`, `max_length `},
		{`{"min_new_tokens": -1}`, `min_new_tokens -1: want 0 (off) or a positive integer`},
		{`{"min_length": 2.5}`, `min_length`},
		{`{"num_beams": 0}`, `num_beams `},
		{`{"num_return_sequences": 0}`, `num_return_sequences `},
		{`{"length_penalty": "long"}`, `length_penalty `},
		{`{"early_stopping": "sometimes"}`, `early_stopping "sometimes": want true, false or "never"`},
		{`{"eos_token_id": 100}`, `eos_token_id 100: want a token id in [0, 100) or a list of them`},
		{`{"eos_token_id": []}`, `eos_token_id `},
		{`{"eos_token_id": [1, "2"]}`, `eos_token_id `},
		{`{"bos_token_id": -1}`, `bos_token_id `},
		{`{"pad_token_id": 1e9}`, `pad_token_id `},
		{`{"num_beams": 2, "num_return_sequences": 3}`, `num_return_sequences 3: want at most num_beams (2)`},
		{`{"top_p": 0}`, `top_p 0: want a number in (0, 1]`},
	} {
		_, err := ParseGenerationConfig([]byte(c.json), 100)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.json, err, c.want)
		}
	}
}

func TestLoadGenerationConfig(t *testing.T) {
	dir := t.TempDir()
	if g, err := LoadGenerationConfig(dir, 100); g != nil || err != nil {
		t.Errorf("no file: %v, %v", g, err)
	}
	os.WriteFile(filepath.Join(dir, GenerationConfigFile), []byte(`{"top_k": -1}`), 0o644)
	_, err := LoadGenerationConfig(dir, 100)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "generation_config.json")+`: "top_k": want 0 (off) or a positive integer, got -1`) {
		t.Errorf("bad file: %v", err)
	}
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Field != "top_k" || oe.Value != "-1" || oe.File == "" {
		t.Errorf("bad file: %#v, want an *OptionError for top_k", err)
	}
}

func FuzzParseGenerationConfig(f *testing.F) {
	f.Add([]byte(`{"do_sample": true, "eos_token_id": [1, 2], "early_stopping": "never", "top_k": 5}`))
	f.Add([]byte(`{"num_beams": 3, "length_penalty": 0.5, "max_length": 30}`))
	f.Add([]byte(`{"min_new_tokens": 4, "min_length": 10}`))
	f.Add([]byte(`{"bad_words_ids": [[49], [3, 4]], "decoder_start_token_id": 49, "forced_bos_token_id": 0, "forced_eos_token_id": [2, 3]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGenerationConfig(b, 50)
		if err != nil {
			return
		}
		for _, id := range g.EOSTokenIDs {
			if id < 0 || id >= 50 {
				t.Errorf("eos id %d accepted", id)
			}
		}
		ids := slices.Concat(g.ForcedEOSTokenIDs, slices.Concat(g.BadWordsIDs...))
		for _, p := range []*int{g.DecoderStartTokenID, g.ForcedBOSTokenID} {
			if p != nil {
				ids = append(ids, *p)
			}
		}
		for _, id := range ids {
			if id < 0 || id >= 50 {
				t.Errorf("token id %d accepted", id)
			}
		}
		for _, w := range g.BadWordsIDs {
			if len(w) == 0 {
				t.Error("empty bad word accepted")
			}
		}
		if g.TopK != nil && *g.TopK < 0 || g.NumBeams != nil && *g.NumBeams < 1 ||
			g.MinNewTokens != nil && *g.MinNewTokens < 0 || g.MinLength != nil && *g.MinLength < 0 {
			t.Errorf("accepted %+v", g)
		}
	})
}

// TestParseGenerationConfigSeq2Seq reads the encoder-decoder fields (a
// Marian-style file: bad_words_ids bans the pad id) and Resolve passes
// them on.
func TestParseGenerationConfigSeq2Seq(t *testing.T) {
	g, err := ParseGenerationConfig([]byte(`{"bad_words_ids": [[58100], [5, 6]], "decoder_start_token_id": 58100,
		"forced_bos_token_id": 3, "forced_eos_token_id": 0, "eos_token_id": 0, "max_length": 512, "num_beams": 4, "pad_token_id": 58100}`), 58101)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.BadWordsIDs) != 2 || !slices.Equal(g.BadWordsIDs[1], []int{5, 6}) || *g.DecoderStartTokenID != 58100 ||
		*g.ForcedBOSTokenID != 3 || !slices.Equal(g.ForcedEOSTokenIDs, []int{0}) {
		t.Errorf("parsed %+v", g)
	}
	opt, b, err := Resolve(g, Settings{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if opt.MaxNewTokens != 511 || b.NumBeams != 4 || len(opt.BadWordsIDs) != 2 || *opt.ForcedBOSTokenID != 3 || !slices.Equal(opt.ForcedEOSTokenIDs, []int{0}) {
		t.Errorf("resolved %+v %+v", opt, b)
	}
	bos := 4
	opt, _, err = Resolve(g, Settings{GenerationConfig: GenerationConfig{ForcedBOSTokenID: &bos, BadWordsIDs: [][]int{{9}}}}, 1)
	if err != nil || *opt.ForcedBOSTokenID != 4 || len(opt.BadWordsIDs) != 1 {
		t.Errorf("overridden: %+v, %v", opt, err)
	}
	for _, bad := range []string{`{"bad_words_ids": [[]]}`, `{"bad_words_ids": [1, 2]}`, `{"bad_words_ids": [[99999]]}`,
		`{"forced_bos_token_id": -1}`, `{"forced_eos_token_id": [99999]}`, `{"decoder_start_token_id": "a"}`} {
		if _, err := ParseGenerationConfig([]byte(bad), 100); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
