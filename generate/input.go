package generate

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/internal/textlines"
)

// ReadPrompts reads the prompts of a JSON lines file for GenerateTexts
// (path "-" reads stdin): each non-blank line is a JSON string or an
// object with a "text" string. It returns the texts and their line
// numbers; an empty prompt is an error naming its line, and so is a file
// without prompts.
func ReadPrompts(path string, stdin io.Reader) (texts []string, lines []int, err error) {
	err = textlines.Read(path, stdin, func(line int, text string, _ json.RawMessage) error {
		if text == "" {
			return fmt.Errorf("%s line %d: empty prompt: GPT-2 needs at least one token to condition on", textlines.Name(path), line)
		}
		texts, lines = append(texts, text), append(lines, line)
		return nil
	})
	if err == nil && len(texts) == 0 {
		err = fmt.Errorf("%s: no prompts", textlines.Name(path))
	}
	return texts, lines, err
}

// ParseIDs reads a prompt given as comma-separated token ids ("1, 2,3"),
// for CheckPrompt to check.
func ParseIDs(s string) ([]int, error) {
	var ids []int
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a token id", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
