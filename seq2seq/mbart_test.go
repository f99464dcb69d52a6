package seq2seq

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/s2stest"
	"github.com/loupe-ml/loupe/tokenizer"
	"github.com/loupe-ml/loupe/tokenizer/sentencepiece"
)

// TestMBartLanguages: an mBART source is the SentencePiece pieces at
// their fairseq ids (SentencePiece id + 1, unknown pieces <unk> 3) with
// the source language code where transformers' MBartTokenizer
// ("X </s> en_XX") or MBart50Tokenizer ("en_XX X </s>") puts it; the
// target language is forced as the first generated token, and the
// language codes are left out of the decoded text.
func TestMBartLanguages(t *testing.T) {
	proc, err := sentencepiece.Load("../tokenizer/testdata/spm/bpe.model")
	if err != nil {
		t.Fatal(err)
	}
	n := proc.VocabSize()
	const text = "Hello world ü"
	var pieces []int
	for _, tk := range proc.Encode(text) {
		id := tk.ID + 1
		if tk.ID == 0 {
			id = 3
		}
		pieces = append(pieces, id)
	}
	de := n + 1 + slices.Index(tokenizer.MBartLanguages, "de_DE")
	for _, fifty := range []bool{false, true} {
		p, err := Load(context.Background(), s2stest.MBart(t, "..", fifty), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		langs := len(tokenizer.MBartLanguages)
		if fifty {
			langs = len(tokenizer.MBart50Languages)
		}
		if v := p.Tokenizer.VocabSize(); v != n+langs+2 {
			t.Errorf("fifty %v: %d tokens, want %d", fifty, v, n+langs+2)
		}
		en := n + 1 + slices.Index(tokenizer.MBartLanguages, "en_XX")
		ro := n + 1 + slices.Index(tokenizer.MBartLanguages, "ro_RO")
		mark := func(lang int) []int {
			if fifty {
				return append(append([]int{lang}, pieces...), 2)
			}
			return append(slices.Clone(pieces), 2, lang)
		}
		got, err := p.EncodeText(text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, mark(en)) {
			t.Errorf("fifty %v: default source %v, want %v (en_XX)", fifty, got, mark(en))
		}
		if err := p.SetLanguages("ro_RO", "de_DE"); err != nil {
			t.Fatal(err)
		}
		if got, _ := p.EncodeText(text); !slices.Equal(got, mark(ro)) {
			t.Errorf("fifty %v: ro_RO source %v, want %v", fifty, got, mark(ro))
		}
		if got, _ := p.EncodeTarget(text); !slices.Equal(got, mark(de)) {
			t.Errorf("fifty %v: de_DE target %v, want %v", fifty, got, mark(de))
		}
		s := generate.Settings{}
		s.DoSample, s.MaxNewTokens = new(false), new(4)
		src, _ := p.EncodeText(text)
		o, err := p.RunIDs(context.Background(), src, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids := o.Sequences[0].IDs
		if len(ids) == 0 || ids[0] != de {
			t.Errorf("fifty %v: generated %v, want de_DE %d first", fifty, ids, de)
		}
		if strings.Contains(o.Sequences[0].Text, "de_DE") {
			t.Errorf("fifty %v: text %q holds the language code", fifty, o.Sequences[0].Text)
		}
		// Truncation keeps the code and </s>.
		p.MaxSourceTokens = 4
		got, _ = p.EncodeText(text)
		want := append(slices.Clone(pieces[:2]), 2, ro)
		if fifty {
			want = []int{ro, pieces[0], pieces[1], 2}
		}
		if !slices.Equal(got, want) {
			t.Errorf("fifty %v: truncated to 4: %v, want %v", fifty, got, want)
		}
		for _, c := range []struct{ src, tgt, want string }{
			{"xx_YY", "", "source language: tokenizer: language code \"xx_YY\": want one of ar_AR"},
			{"", "sl_SI", "sl_SI"},
		} {
			err := p.SetLanguages(c.src, c.tgt)
			if fifty && c.tgt == "sl_SI" {
				if err != nil {
					t.Errorf("mBART-50 sl_SI: %v", err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("fifty %v: SetLanguages(%q, %q): %v, want %q", fifty, c.src, c.tgt, err, c.want)
			}
		}
	}
	q := loadTiny(t, "tiny-t5")
	if err := q.SetLanguages("en_XX", ""); err == nil || !strings.Contains(err.Error(), "need an mBART model") {
		t.Errorf("T5: %v", err)
	}
}

// TestMBartReference: mBART sources equal the ids of
// testdata/mbart_reference.py (python3-sentencepiece with transformers'
// MBartTokenizer and MBart50Tokenizer id rules) for every text and
// language of its case set.
func TestMBartReference(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "mbart.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Fifty bool   `json:"fifty"`
		Text  string `json:"text"`
		Lang  string `json:"lang"`
		IDs   []int  `json:"ids"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	pipes := map[bool]*Pipeline{}
	for _, fifty := range []bool{false, true} {
		p, err := Load(context.Background(), s2stest.MBart(t, "..", fifty), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		pipes[fifty] = p
	}
	for _, c := range cases {
		p, err := pipes[c.Fifty].WithLanguages(c.Lang, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.EncodeText(c.Text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.IDs) {
			t.Errorf("fifty %v %s %q: %v, want %v", c.Fifty, c.Lang, c.Text, got, c.IDs)
		}
	}
	if len(cases) != 54 {
		t.Errorf("%d cases, want 54", len(cases))
	}
}
