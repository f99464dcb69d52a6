package seq2seq

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/s2stest"
	"github.com/loupe-ml/loupe/tokenizer"
)

// t5SmallTasks is t5-small's config.json task_specific_params.
var t5SmallTasks = map[string]any{
	"summarization": map[string]any{"early_stopping": true, "length_penalty": 2.0, "max_length": 200, "min_length": 30,
		"no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "},
	"translation_en_to_de": map[string]any{"early_stopping": true, "max_length": 300, "num_beams": 4, "prefix": "translate English to German: "},
	"translation_en_to_fr": map[string]any{"early_stopping": true, "max_length": 300, "num_beams": 4, "prefix": "translate English to French: "},
}

// TestSetTask: a task of task_specific_params sets the prefix EncodeText
// puts before the text and the generation fields, as transformers'
// pipeline(task) does; an unknown task names the known ones.
func TestSetTask(t *testing.T) {
	p, err := Load(context.Background(), s2stest.T5(t, "..", map[string]any{"task_specific_params": t5SmallTasks}), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.Tasks(); len(got) != 3 || !slices.Contains(got, "summarization") {
		t.Errorf("Tasks %v", got)
	}
	for _, c := range []struct{ from, to, want string }{
		{"en", "de", "translation_en_to_de"}, {"en", "fr", "translation_en_to_fr"}, {"de", "en", ""},
	} {
		if got := p.TranslationTask(c.from, c.to); got != c.want {
			t.Errorf("TranslationTask(%q, %q) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
	if got := p.TranslationTask("", ""); !strings.HasPrefix(got, "translation_en_to_") {
		t.Errorf("TranslationTask() = %q, want the first translation task", got)
	}
	plain, err := p.EncodeText("translate English to German: hello")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetTask("translation_en_to_de"); err != nil {
		t.Fatal(err)
	}
	got, err := p.EncodeText("hello")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, plain) || p.Prefix != "translate English to German: " {
		t.Errorf("with the task: %v (prefix %q), want %v", got, p.Prefix, plain)
	}
	if c := p.Config; c.NumBeams == nil || *c.NumBeams != 4 || c.MaxLength == nil || *c.MaxLength != 300 || c.EarlyStopping == nil {
		t.Errorf("task settings not applied: %+v", c)
	}
	// The target is not prefixed.
	if tgt, _ := p.EncodeTarget("hello"); tgt[0] == plain[0] {
		t.Errorf("EncodeTarget %v starts like the prefixed source", tgt)
	}
	if err := p.SetTask("summarization"); err != nil || *p.Config.MinLength != 30 || *p.Config.MaxLength != 200 || p.Prefix != "summarize: " {
		t.Errorf("summarization: %v, %+v %q", err, p.Config, p.Prefix)
	}
	err = p.SetTask("translation_de_to_en")
	if !errors.Is(err, ErrNoTask) || !strings.Contains(err.Error(), "summarization, translation_en_to_de, translation_en_to_fr") {
		t.Errorf("unknown task: %v", err)
	}
	// A model without task_specific_params has none.
	q, err := Load(context.Background(), s2stest.T5(t, "..", nil), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.SetTask("summarization"); !errors.Is(err, ErrNoTask) || !strings.Contains(err.Error(), "it has: none") || q.TranslationTask("", "") != "" {
		t.Errorf("no tasks: %v", err)
	}
}

// TestMaxSourceTokens: a source longer than n_positions is an error naming
// it; with MaxSourceTokens it is cut to that many tokens, </s> kept.
func TestMaxSourceTokens(t *testing.T) {
	p, err := Load(context.Background(), s2stest.T5(t, "..", map[string]any{"n_positions": 8}), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	text := "hello world, this is a long sentence"
	full := p.Tokenizer.EncodeText(text, tokenizer.EncodeOptions{}).IDs
	if len(full) <= 8 {
		t.Fatalf("%d tokens: want a longer source", len(full))
	}
	if p.SourceLimit() != 8 {
		t.Errorf("SourceLimit %d, want n_positions 8", p.SourceLimit())
	}
	if _, err := p.EncodeText(text); err == nil || !strings.Contains(err.Error(), "n_positions 8") {
		t.Errorf("too long: %v, want an error naming n_positions 8", err)
	}
	for _, n := range []int{8, 5, 2} {
		p.MaxSourceTokens = n
		got, err := p.EncodeText(text)
		if err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(full[:n-1]), 1)
		if !slices.Equal(got, want) {
			t.Errorf("MaxSourceTokens %d: %v, want %v", n, got, want)
		}
	}
	p.MaxSourceTokens = 1
	if _, err := p.EncodeText(text); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("MaxSourceTokens 1: %v", err)
	}
	// T5's positions are relative: a MaxSourceTokens above n_positions
	// raises the limit.
	p.MaxSourceTokens = 12
	if got, err := p.EncodeText(text); err != nil || !slices.Equal(got, append(slices.Clone(full[:11]), 1)) {
		t.Errorf("MaxSourceTokens 12 > n_positions 8: %v, %v", got, err)
	}
	p.MaxSourceTokens = 100 // longer than the source: nothing cut
	if got, _ := p.EncodeText("hello"); !slices.Equal(got, p.Tokenizer.EncodeText("hello", tokenizer.EncodeOptions{}).IDs) {
		t.Errorf("a short source changed: %v", got)
	}
}

// FuzzReadTasks: any config.json gives tasks or an error, never a panic,
// and every task read is an object SetTask can be asked about.
func FuzzReadTasks(f *testing.F) {
	for _, s := range []string{
		`{"task_specific_params": {"summarization": {"prefix": "summarize: ", "num_beams": 4}, "translation_en_to_de": {"max_length": 300}}}`,
		`{"task_specific_params": null}`,
		`{"task_specific_params": []}`,
		`{"task_specific_params": {"a": 1, "b": {"prefix": 3}}}`,
		`{"model_type": "t5"}`,
		`{"task_specific_params": {"a": {`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := t.TempDir() + "/config.json"
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tasks, err := readTasks(path)
		if err != nil {
			return
		}
		for _, tk := range tasks {
			if len(tk.raw) == 0 {
				t.Errorf("task %q without a value", tk.name)
			}
		}
		p := &Pipeline{Dir: t.TempDir(), tasks: tasks, spec: spec{vocab: 100}}
		for _, tk := range tasks {
			p.SetTask(tk.name) // an error or settings, no panic
		}
	})
}
