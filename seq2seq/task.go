package seq2seq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/tokenizer"
)

// task is one entry of config.json's task_specific_params.
type task struct {
	name string
	raw  json.RawMessage
}

// readTasks returns config.json's task_specific_params in file order.
func readTasks(path string) ([]task, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seq2seq: %w", err)
	}
	var c struct {
		Params json.RawMessage `json:"task_specific_params"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("seq2seq: %s: %w", path, err)
	}
	if len(c.Params) == 0 || string(c.Params) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(c.Params))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("seq2seq: %s: task_specific_params: want an object of task → settings", path)
	}
	var out []task
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("seq2seq: %s: task_specific_params: %w", path, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("seq2seq: %s: task_specific_params[%q]: %w", path, k, err)
		}
		out = append(out, task{k.(string), raw})
	}
	return out, nil
}

// Tasks returns the tasks of config.json's task_specific_params, in file
// order ("summarization", "translation_en_to_de", ... for T5).
func (p *Pipeline) Tasks() []string {
	var names []string
	for _, t := range p.tasks {
		names = append(names, t.name)
	}
	return names
}

// ErrNoTask is wrapped by SetTask's error for a task the model's
// config.json does not list.
var ErrNoTask = errors.New("no such task in config.json's task_specific_params")

// SetTask applies task_specific_params[name] of config.json as
// transformers' pipeline(name) does: its generation fields (max_length,
// min_length, num_beams, length_penalty, no_repeat_ngram_size,
// early_stopping, ...) over the model's generation settings (Config), and
// its "prefix" before every source text (Prefix). A task the file does not
// list is an error wrapping ErrNoTask that names those it does.
func (p *Pipeline) SetTask(name string) error {
	path := filepath.Join(p.Dir, "config.json")
	i := slices.IndexFunc(p.tasks, func(t task) bool { return t.name == name })
	if i < 0 {
		have := "none"
		if len(p.tasks) > 0 {
			have = strings.Join(p.Tasks(), ", ")
		}
		return fmt.Errorf("seq2seq: %s: task %q: %w (it has: %s)", path, name, ErrNoTask, have)
	}
	raw := p.tasks[i].raw
	var t struct {
		Prefix *string `json:"prefix"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("seq2seq: %s: task_specific_params[%q]: want an object with a string prefix: %w", path, name, err)
	}
	gc, err := generate.ParseGenerationConfig(raw, p.spec.vocab)
	if err != nil {
		var oe *generate.OptionError
		if errors.As(err, &oe) {
			oe.File = path + " task_specific_params[" + name + "]"
			return oe
		}
		return fmt.Errorf("seq2seq: %s: task_specific_params[%q]: %w", path, name, err)
	}
	if p.Config == nil {
		p.Config = &generate.GenerationConfig{}
	}
	p.Config.Merge(gc)
	if t.Prefix != nil {
		p.Prefix = *t.Prefix
	}
	return nil
}

// TranslationTask returns the task of config.json's task_specific_params
// for translating from language from to language to
// ("translation_en_to_de"); with both empty, the first translation task it
// lists, as transformers' pipeline("translation") picks. It returns "" when
// there is none.
func (p *Pipeline) TranslationTask(from, to string) string {
	for _, t := range p.tasks {
		if from == "" && to == "" && strings.HasPrefix(t.name, "translation") {
			return t.name
		}
		if t.name == "translation_"+from+"_to_"+to {
			return t.name
		}
	}
	return ""
}

// SourceLimit returns the most source tokens the model takes: BART's,
// mBART's and Marian's max_position_embeddings, T5's n_positions (512 when
// config.json has none; T5's relative positions would take more, but
// transformers' tokenizer warns beyond it).
func (p *Pipeline) SourceLimit() int { return p.spec.maxSource }

// truncate shortens ids, encoded with their special tokens, to n tokens
// by dropping text tokens from the end, as transformers' truncation does
// before it adds the special tokens (BART's <s> and </s>, T5's and
// Marian's </s>, mBART's language code and </s>).
func (p *Pipeline) truncate(ids []int, n int) ([]int, error) {
	before, after := 0, 0
	switch t := p.Tokenizer.(type) {
	case *tokenizer.BPE:
		before, after = 1, 1
	case *tokenizer.SentencePiece:
		b, a := t.Specials()
		before, after = len(b), len(a)
	}
	if n <= before+after {
		return nil, fmt.Errorf("seq2seq: MaxSourceTokens %d leaves no room for text besides the %d special tokens", n, before+after)
	}
	if len(ids) <= n {
		return ids, nil
	}
	out := slices.Clone(ids[:n-after])
	return append(out, ids[len(ids)-after:]...), nil
}

// SetLanguages sets an mBART model's source and target language codes
// (en_XX, de_DE, ...), as transformers' translation pipeline with src_lang
// and tgt_lang: the source's code goes where the mBART tokenizer puts it
// (EncodeText: "X </s> code" for mBART-cc25, "code X </s>" for mBART-50;
// en_XX until set), the target's becomes forced_bos_token_id, the first
// token generated, and marks EncodeTarget's text. An empty code leaves
// that side as it is. It fails for a model without mBART's tokenizer
// (sentencepiece.bpe.model) and for a code it does not have.
func (p *Pipeline) SetLanguages(src, tgt string) error {
	sp, ok := p.Tokenizer.(*tokenizer.SentencePiece)
	if !ok || sp.Languages() == nil {
		return fmt.Errorf("seq2seq: %s: language codes need an mBART model with its %s (model_type %q)", p.Name, tokenizer.MBartModel, p.spec.modelType)
	}
	if src != "" {
		t, err := sp.WithLanguage(src)
		if err != nil {
			return fmt.Errorf("seq2seq: source language: %w", err)
		}
		p.Tokenizer = t
	}
	if tgt != "" {
		t, err := sp.WithLanguage(tgt)
		if err != nil {
			return fmt.Errorf("seq2seq: target language: %w", err)
		}
		id, _ := sp.LanguageID(tgt)
		if id >= p.spec.vocab {
			return fmt.Errorf("seq2seq: target language %s: id %d outside the model's %d tokens", tgt, id, p.spec.vocab)
		}
		p.target = t
		if p.Config == nil {
			p.Config = &generate.GenerationConfig{}
		}
		p.Config.ForcedBOSTokenID = &id
	}
	return nil
}

// clone returns a copy of p that shares its model and tokenizers but has
// its own generation settings.
func (p *Pipeline) clone() *Pipeline {
	c := *p
	if p.Config != nil {
		g := *p.Config
		c.Config = &g
	}
	return &c
}

// WithTask returns a copy of p with SetTask(name) applied, leaving p as it
// is (for a server that runs several tasks on one model). The copy shares
// p's model: close p, not the copy.
func (p *Pipeline) WithTask(name string) (*Pipeline, error) {
	c := p.clone()
	if err := c.SetTask(name); err != nil {
		return nil, err
	}
	return c, nil
}

// WithLanguages returns a copy of p with SetLanguages(src, tgt) applied,
// leaving p as it is. The copy shares p's model: close p, not the copy.
func (p *Pipeline) WithLanguages(src, tgt string) (*Pipeline, error) {
	c := p.clone()
	if err := c.SetLanguages(src, tgt); err != nil {
		return nil, err
	}
	return c, nil
}
