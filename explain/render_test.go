package explain

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestWriteText(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	res, err := n.Explain(g.IDs, g.PromptLength, Options{Methods: Methods, IGSteps: 3, Watch: []int{1}, NMFComponents: 2, ToLayer: -1,
		TokenText: func(id int) string { return map[int]string{3: "\x1b[31mred", 17: "a\nb"}[id] + "t" }})
	if err != nil {
		t.Fatal(err)
	}
	var plain, color bytes.Buffer
	if err := WriteText(&plain, res, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&color, res, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"grad_x_input attributions", "integrated_gradients attributions", "gradient attributions",
		"completeness", "rankings of each output token", "rankings_watch", "NMF of MLP activations", "%"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain output lacks %q", want)
		}
	}
	if strings.Contains(plain.String(), "\x1b") {
		t.Error("plain output has escape sequences (a token's ESC must be quoted)")
	}
	if !strings.Contains(color.String(), "\x1b[48;5;") {
		t.Error("colour output has no background colours")
	}
	if strings.Contains(color.String(), "\x1b[31m") || strings.Contains(color.String(), "a\nb") {
		t.Error("a token's control characters reached the terminal")
	}
	if err := WriteText(failWriter{}, res, false); err == nil {
		t.Error("write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }
