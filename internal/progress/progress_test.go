package progress

import (
	"bytes"
	"strings"
	"testing"
)

// TestReporter: the callback is safe whether or not progress is shown and
// whether or not it was ever called.
func TestReporter(t *testing.T) {
	t.Setenv("LOUPE_NO_PROGRESS", "1")
	report, finish := Reporter[int]("work", false)
	report(1, 10)
	report(10, 10)
	finish()
	_, finish = Reporter[int64]("never called", true)
	finish()
}

// TestNewTo: a bar written to a buffer shows its description and count.
func TestNewTo(t *testing.T) {
	var buf bytes.Buffer
	b := NewTo(&buf, 4, "steps", false)
	b.Set(4)
	b.Finish()
	if out := buf.String(); !strings.Contains(out, "steps") || !strings.Contains(out, "4") {
		t.Errorf("bar output %q", out)
	}
}
