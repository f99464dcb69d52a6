package generate

import (
	"slices"
	"strings"
	"testing"
)

func TestReadPrompts(t *testing.T) {
	texts, lines, err := ReadPrompts("-", strings.NewReader("\"a\"\n\n{\"text\": \"b c\"}\n"))
	if err != nil || !slices.Equal(texts, []string{"a", "b c"}) || !slices.Equal(lines, []int{1, 3}) {
		t.Errorf("got %q %v %v", texts, lines, err)
	}
	for in, want := range map[string]string{
		"\"a\"\n\"\"\n": "line 2: empty prompt",
		"\n  \n":        "no prompts",
	} {
		if _, _, err := ReadPrompts("-", strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestParseIDs(t *testing.T) {
	if ids, err := ParseIDs("1, 2,3"); err != nil || !slices.Equal(ids, []int{1, 2, 3}) {
		t.Errorf("got %v %v", ids, err)
	}
	if _, err := ParseIDs("1,x"); err == nil || err.Error() != `"x" is not a token id` {
		t.Errorf("got %v", err)
	}
}
