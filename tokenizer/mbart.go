package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loupe-ml/loupe/tokenizer/sentencepiece"
)

// MBartModel is the SentencePiece model file of mBART checkpoints.
const MBartModel = "sentencepiece.bpe.model"

// MBartLanguages are the language codes of transformers' MBartTokenizer
// (mbart-large-cc25, mbart-large-en-ro), in id order.
var MBartLanguages = []string{"ar_AR", "cs_CZ", "de_DE", "en_XX", "es_XX", "et_EE", "fi_FI", "fr_XX", "gu_IN", "hi_IN",
	"it_IT", "ja_XX", "kk_KZ", "ko_KR", "lt_LT", "lv_LV", "my_MM", "ne_NP", "nl_XX", "ro_RO", "ru_RU", "si_LK", "tr_TR",
	"vi_VN", "zh_CN"}

// MBart50Languages are those of MBart50Tokenizer (the mbart-large-50
// family): MBartLanguages and 27 more, in id order.
var MBart50Languages = append(slices.Clone(MBartLanguages), "af_ZA", "az_AZ", "bn_IN", "fa_IR", "he_IL", "hr_HR", "id_ID",
	"ka_GE", "km_KH", "mk_MK", "ml_IN", "mn_MN", "mr_IN", "pl_PL", "ps_AF", "pt_XX", "sv_SE", "sw_KE", "ta_IN", "te_IN",
	"th_TH", "tl_XX", "uk_UA", "ur_PK", "xh_ZA", "gl_ES", "sl_SI")

// MBartLayout reports whether dir holds an mBART tokenizer, and whether
// it is mBART-50's: a sentencepiece.bpe.model that tokenizer_config.json's
// tokenizer_class calls MBartTokenizer or MBart50Tokenizer (or their Fast
// forms), or that sits beside a config.json of model_type "mbart" (then
// mBART-50's only when the class says so). XLM-RoBERTa ships the same
// file name, so the name alone does not decide.
func MBartLayout(dir string) (mbart, fifty bool) {
	if _, err := os.Stat(filepath.Join(dir, MBartModel)); err != nil {
		return false, false
	}
	var tc struct {
		Class string `json:"tokenizer_class"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		json.Unmarshal(b, &tc)
	}
	if strings.HasPrefix(tc.Class, "MBart50") {
		return true, true
	}
	if strings.HasPrefix(tc.Class, "MBart") {
		return true, false
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		json.Unmarshal(b, &c)
	}
	return c.ModelType == "mbart", false
}

// LoadMBart loads dir's sentencepiece.bpe.model as transformers'
// MBartTokenizer (fifty false) or MBart50Tokenizer (fifty true) do: the
// fairseq ids ("<s>" 0, "<pad>" 1, "</s>" 2, "<unk>" 3, then every other
// piece at its SentencePiece id + 1), then the language codes
// (MBartLanguages or MBart50Languages) and "<mask>" after the pieces. The
// text's language is en_XX until WithLanguage: mBART-cc25 writes
// "X </s> en_XX", mBART-50 "en_XX X </s>".
func LoadMBart(dir string, fifty bool) (*SentencePiece, error) {
	path := filepath.Join(dir, MBartModel)
	proc, err := sentencepiece.Load(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	n := proc.VocabSize()
	langs := MBartLanguages
	if fifty {
		langs = MBart50Languages
	}
	vocab := map[string]int{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
	for id := 3; id < n; id++ {
		if p := proc.IDToPiece(id); p != "" {
			if _, ok := vocab[p]; !ok {
				vocab[p] = id + 1
			}
		}
	}
	t := &SentencePiece{proc: proc, dec: proc, vocab: vocab, unk: 3, isSpecial: map[int]bool{}, mbart: map[string]int{}, mbart50: fifty}
	for i, code := range langs {
		vocab[code] = n + 1 + i
		t.mbart[code] = n + 1 + i
	}
	vocab["<mask>"] = n + 1 + len(langs)
	t.tokens = make([]string, n+2+len(langs))
	for tok, id := range vocab {
		t.tokens[id] = tok
	}
	for _, s := range append([]string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}, langs...) {
		t.addSpecial(s, vocab[s])
	}
	if opt, err := readTokenizerConfig(dir); err == nil && opt.ModelMaxLength > 0 {
		t.maxLen = opt.ModelMaxLength
	}
	return t.WithLanguage("en_XX")
}

// Languages returns the language codes of an mBART tokenizer (LoadMBart),
// nil for others.
func (t *SentencePiece) Languages() []string {
	if t.mbart == nil {
		return nil
	}
	codes := make([]string, 0, len(t.mbart))
	for c := range t.mbart {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b string) int { return t.mbart[a] - t.mbart[b] })
	return codes
}

// LanguageID returns the id of an mBART language code (en_XX), and false
// for a code the tokenizer does not have.
func (t *SentencePiece) LanguageID(code string) (int, bool) {
	id, ok := t.mbart[code]
	return id, ok
}

// WithLanguage returns a copy of an mBART tokenizer (LoadMBart) that marks
// its text as language code, as the tokenizer's src_lang (or, for a
// target, tgt_lang) does: mBART-cc25 appends "</s> code", mBART-50 puts
// "code" first and "</s>" last. Other tokenizers, and codes they do not
// have, are an error naming the codes there are.
func (t *SentencePiece) WithLanguage(code string) (*SentencePiece, error) {
	if t.mbart == nil {
		return nil, fmt.Errorf("tokenizer: language code %q: not an mBART tokenizer (%s)", code, MBartModel)
	}
	id, ok := t.mbart[code]
	if !ok {
		return nil, fmt.Errorf("tokenizer: language code %q: want one of %s", code, strings.Join(t.Languages(), ", "))
	}
	c := *t
	if t.mbart50 {
		c.before, c.after = []int{id}, []int{2}
	} else {
		c.before, c.after = nil, []int{2, id}
	}
	return &c, nil
}
