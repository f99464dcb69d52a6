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
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/t5"
	"github.com/loupe-ml/loupe/tokenizer/sentencepiece"
)

// MarianDir writes a random Marian of tiny-marian's shape with a
// SentencePiece tokenizer (source.spm and target.spm: the tokenizer
// package's unigram-identity test model; vocab.json: its pieces after
// </s> and <unk>, <pad> last) and a generation_config.json banning the pad
// id as Marian's do. It is used by the CLI tests too (through a copy).
func marianDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join("..", "tokenizer", "testdata", "spm", "unigram-identity.model")
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"source.spm", "target.spm"} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sp, err := sentencepiece.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{"</s>": 0, "<unk>": 1}
	for id := range sp.VocabSize() {
		if _, ok := vocab[sp.IDToPiece(id)]; !ok {
			vocab[sp.IDToPiece(id)] = len(vocab)
		}
	}
	pad := len(vocab)
	vocab["<pad>"] = pad
	vj, _ := json.Marshal(vocab)
	os.WriteFile(filepath.Join(dir, "vocab.json"), vj, 0o644)
	cb, err := os.ReadFile(filepath.Join(tinyDir("tiny-marian"), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal(cb, &raw)
	raw["vocab_size"], raw["decoder_vocab_size"] = pad+1, pad+1
	raw["pad_token_id"], raw["decoder_start_token_id"] = pad, pad
	cb, _ = json.Marshal(raw)
	cfg, err := bart.ParseConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bart.Random(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), cb, 0o644)
	gc := `{"bad_words_ids": [[` + jsonInt(pad) + `]], "decoder_start_token_id": ` + jsonInt(pad) +
		`, "eos_token_id": 0, "forced_eos_token_id": 0, "max_length": 16, "num_beams": 1, "pad_token_id": ` + jsonInt(pad) + `}`
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(gc), 0o644)
	return dir
}

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestMarianText: a Marian directory with SentencePiece models takes text:
// the source is vocab.json's ids of source.spm's pieces and </s>, the
// output is decoded with target.spm without special tokens, and the
// generation config's settings (bad_words_ids banning pad, max_length)
// apply.
func TestMarianText(t *testing.T) {
	dir := marianDir(t)
	p, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src, err := p.EncodeText("hello world")
	if err != nil {
		t.Fatal(err)
	}
	if len(src) < 2 || src[len(src)-1] != 0 || slices.Contains(src[:len(src)-1], 0) {
		t.Errorf("source %v: want pieces then </s> (0)", src)
	}
	s := generate.Settings{Seed: new(uint64)}
	s.RepetitionPenalty = new(2.0)
	out, err := p.Run(context.Background(), "hello world", s, nil)
	if err != nil {
		t.Fatal(err)
	}
	sq := out.Sequences[0]
	pad := p.Model.Config.PadTokenID
	if len(sq.IDs) == 0 || len(sq.IDs) > 15 || slices.Contains(sq.IDs, pad) {
		t.Errorf("ids %v: want 1 to 15 (max_length 16 with the start) and never pad %d", sq.IDs, pad)
	}
	ids := sq.IDs
	if ids[len(ids)-1] == 0 {
		ids = ids[:len(ids)-1]
	}
	if want := p.Tokenizer.Decode(ids); sq.Text != want || strings.Contains(sq.Text, "</s>") {
		t.Errorf("text %q, want %q without </s>", sq.Text, want)
	}
	byIDs, err := p.RunIDs(context.Background(), src, s, nil)
	if err != nil || !slices.Equal(byIDs.Sequences[0].IDs, sq.IDs) {
		t.Errorf("RunIDs %v (%v), Run %v", byIDs, err, sq.IDs)
	}
	var b strings.Builder
	if _, err := p.RunText(context.Background(), &b, src, s); err != nil {
		t.Fatal(err)
	}
	if b.String() != sq.Text+"\n" {
		t.Errorf("streamed %q, want %q", b.String(), sq.Text+"\n")
	}
	var res []*generate.Result
	err = p.RunTexts(context.Background(), []string{"hello world", "abc", "hello"}, nil, s, 2, func(_ int, r []*generate.Result) error {
		res = append(res, r...)
		return nil
	})
	if err != nil || len(res) != 3 || !slices.Equal(res[0].IDs, sq.IDs) {
		t.Errorf("RunTexts: %d results, %v", len(res), err)
	}
}

// TestT5Text: a T5 directory with spiece.model takes text (pieces and
// </s>) and decodes its output with the same model.
func TestT5Text(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join("..", "tokenizer", "testdata", "spm", "t5.model")
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "spiece.model"), b, 0o644)
	sp, err := sentencepiece.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile(filepath.Join(tinyDir("tiny-t5"), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal(cb, &raw)
	raw["vocab_size"] = sp.VocabSize()
	raw["pad_token_id"], raw["eos_token_id"], raw["decoder_start_token_id"] = sp.PadID(), sp.EosID(), sp.PadID()
	cb, _ = json.Marshal(raw)
	cfg, err := t5.ParseConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	m, err := t5.Random(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), cb, 0o644)
	p, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src, err := p.EncodeText("translate English to German: hello")
	if err != nil {
		t.Fatal(err)
	}
	if want := append(sp.EncodeIDs("translate English to German: hello"), sp.EosID()); !slices.Equal(src, want) {
		t.Errorf("source %v, want %v", src, want)
	}
	s := generate.Settings{Seed: new(uint64)}
	s.NumBeams = new(3)
	out, err := p.Run(context.Background(), "translate English to German: hello", s, nil)
	if err != nil {
		t.Fatal(err)
	}
	sq := out.Sequences[0]
	ids := slices.DeleteFunc(slices.Clone(sq.IDs), func(id int) bool { return id == sp.EosID() || id == sp.PadID() })
	if len(sq.IDs) == 0 || len(sq.IDs) > 19 || sq.Text != p.Tokenizer.Decode(ids) {
		t.Errorf("ids %v text %q, want at most 19 ids and %q", sq.IDs, sq.Text, p.Tokenizer.Decode(ids))
	}
}

// TestWriteMarianDemo writes marianDir's model to $LOUPE_S2S_DEMO_DIR (for
// docs/seq2seq.md's explorable screenshot); skipped when it is unset.
func TestWriteMarianDemo(t *testing.T) {
	out := os.Getenv("LOUPE_S2S_DEMO_DIR")
	if out == "" {
		t.Skip("LOUPE_S2S_DEMO_DIR not set")
	}
	dir := marianDir(t)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
