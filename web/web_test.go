package web

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/explain"
)

func TestWriteHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	data := map[string]any{"tokens": []string{"</script><script>alert(1)</script>", " b"}, "ids": []int{1, 2}, "prompt_length": 1}
	if err := WriteHTML(&b, "t<i>tle", data); err != nil {
		t.Fatal(err)
	}
	// The SVG namespace is a name, not a request.
	s := strings.ReplaceAll(b.String(), `"http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "url("} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q: it must not load anything", bad)
		}
	}
	if strings.Count(s, "</script>") != 2 {
		t.Errorf("the data block can close a script: %d </script> tags", strings.Count(s, "</script>"))
	}
	if !strings.Contains(s, OfflineCSP) || !strings.Contains(s, "t&lt;i&gt;tle") {
		t.Error("missing CSP or unescaped title")
	}
	if strings.Contains(s, "{{") {
		t.Error("unfilled placeholder")
	}
}

func TestServerPage(t *testing.T) {
	s := string(ServerPage("x"))
	if !strings.Contains(s, `data-mode="server"`) || !strings.Contains(s, "connect-src 'self'") {
		t.Fatal("server page lacks its mode or policy")
	}
}

// TestPageLimits: the web UI's NMF field has the library's default and
// limit, as loupe explain --nmf-components and the API do.
func TestPageLimits(t *testing.T) {
	want := fmt.Sprintf(`<input id="nmf" type="number" min="0" max="%d" value="%d">`, explain.MaxNMFComponents, explain.DefaultNMFComponents)
	if !strings.Contains(string(ServerPage("m")), want) {
		t.Errorf("the page lacks %s", want)
	}
}
