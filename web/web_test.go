package web

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/explain"
)

func TestWriteHTMLSelfContained(t *testing.T) {
	for name, write := range map[string]func(io.Writer, string, any) error{"WriteHTML": WriteHTML, "WriteSeq2SeqHTML": WriteSeq2SeqHTML} {
		var b bytes.Buffer
		data := map[string]any{"tokens": []string{"</script><script>alert(1)</script>", " b"}, "ids": []int{1, 2}, "prompt_length": 1,
			"source": []string{"</script><script>alert(1)</script>"}}
		if err := write(&b, "t<i>tle", data); err != nil {
			t.Fatal(err)
		}
		// The SVG namespace is a name, not a request.
		s := strings.ReplaceAll(b.String(), `"http://www.w3.org/2000/svg"`, "")
		for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "url("} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: page contains %q: it must not load anything", name, bad)
			}
		}
		if strings.Count(s, "</script>") != 2 {
			t.Errorf("%s: the data block can close a script: %d </script> tags", name, strings.Count(s, "</script>"))
		}
		if !strings.Contains(s, OfflineCSP) || !strings.Contains(s, "t&lt;i&gt;tle") {
			t.Errorf("%s: missing CSP or unescaped title", name)
		}
		if strings.Contains(s, "{{") {
			t.Errorf("%s: unfilled placeholder", name)
		}
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
