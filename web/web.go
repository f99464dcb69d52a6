package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

//go:embed assets/page.html assets/app.js assets/style.css
var assets embed.FS

// OfflineCSP is the Content Security Policy of a standalone HTML file: inline
// script and style only, no fetches, images, fonts or frames from anywhere.
const OfflineCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

// ServerCSP is the policy of the page loupe serve returns: like OfflineCSP,
// plus requests to the serving origin.
const ServerCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'self'"

func asset(name string) string {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic("web: missing embedded asset " + name) // a build error, not user input
	}
	return string(b)
}

// page fills the template. data is JSON (already encoded, HTML-safe).
func page(title, mode, csp string, data []byte) []byte {
	r := strings.NewReplacer(
		"{{CSP}}", csp,
		"{{TITLE}}", html.EscapeString(title),
		"{{MODE}}", mode,
		"{{CSS}}", asset("style.css"),
		"{{JS}}", asset("app.js"),
		"{{DATA}}", string(data),
	)
	return []byte(r.Replace(asset("page.html")))
}

// WriteHTML writes a self-contained explorable of result (any value whose
// JSON has the fields of explain.Result) to w.
func WriteHTML(w io.Writer, title string, result any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true) // <, > and & become \u003c…: "</script>" cannot end the block
	if err := enc.Encode(result); err != nil {
		return fmt.Errorf("web: encoding the explanation: %w", err)
	}
	_, err := w.Write(page(title, "file", OfflineCSP, bytes.TrimSpace(buf.Bytes())))
	return err
}

// ServerPage returns the page loupe serve shows at "/".
func ServerPage(title string) []byte {
	return page(title, "server", ServerCSP, []byte("null"))
}
