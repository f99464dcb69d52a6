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

//go:embed assets/page.html assets/app.js assets/style.css assets/s2s.html assets/s2s.js assets/s2s_saliency.js assets/sd.html assets/sd.js
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
	return fill("page.html", "app.js", title, mode, csp, data)
}

// fill fills template tmpl with the style sheet and script js.
func fill(tmpl, js, title, mode, csp string, data []byte) []byte {
	r := strings.NewReplacer(
		"{{CSP}}", csp,
		"{{TITLE}}", html.EscapeString(title),
		"{{MODE}}", mode,
		"{{CSS}}", asset("style.css"),
		"{{JS}}", asset(js),
		"{{SALIENCY_JS}}", asset("s2s_saliency.js"), // s2s.html's saliency view, after s2s.js
		"{{DATA}}", string(data),
	)
	return []byte(r.Replace(asset(tmpl)))
}

// encodeData returns result's JSON, HTML-safe for a script block.
func encodeData(result any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true) // <, > and & become \u003c…: "</script>" cannot end the block
	if err := enc.Encode(result); err != nil {
		return nil, fmt.Errorf("web: encoding the explanation: %w", err)
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// WriteHTML writes a self-contained explorable of result (any value whose
// JSON has the fields of explain.Result) to w.
func WriteHTML(w io.Writer, title string, result any) error {
	data, err := encodeData(result)
	if err != nil {
		return err
	}
	_, err = w.Write(page(title, "file", OfflineCSP, data))
	return err
}

// WriteSeq2SeqHTML writes a self-contained explorable of an
// encoder-decoder explanation (any value whose JSON has the fields of
// seq2seq.Explanation: "source", "target", "text", "layers", "heads",
// "cross_attention") to w: the cross-attention heatmap, target × source,
// with layer and head selectors (each may be the mean), the selected
// target token's top source tokens, and with "saliency" the input saliency
// view (hover a target token to shade the source and the target prefix).
// Like WriteHTML's page it loads
// nothing (OfflineCSP).
func WriteSeq2SeqHTML(w io.Writer, title string, result any) error {
	data, err := encodeData(result)
	if err != nil {
		return err
	}
	_, err = w.Write(fill("s2s.html", "s2s.js", title, "file", OfflineCSP, data))
	return err
}

// Seq2SeqServerPage returns the page loupe serve shows at "/" for an
// encoder-decoder model: WriteSeq2SeqHTML's explorable, empty, under a
// source box that posts to api/explain (ServerCSP).
func Seq2SeqServerPage(title string) []byte {
	return fill("s2s.html", "s2s.js", title, "server", ServerCSP, []byte("null"))
}

// WriteDiffusionHTML writes a self-contained explorable of a Stable
// Diffusion run (any value whose JSON has the fields of
// pipeline.Explanation: "settings", "image", "steps", "tokens",
// "attention") to w: the image and its settings, a step slider showing the
// decoded predicted clean image and the noise prediction of each step, and
// per-token cross-attention maps laid over the image. The images are inline
// data URIs; like WriteHTML's page it loads nothing (OfflineCSP).
func WriteDiffusionHTML(w io.Writer, title string, result any) error {
	data, err := encodeData(result)
	if err != nil {
		return err
	}
	_, err = w.Write(fill("sd.html", "sd.js", title, "file", OfflineCSP, data))
	return err
}

// ServerPage returns the page loupe serve shows at "/".
func ServerPage(title string) []byte {
	return page(title, "server", ServerCSP, []byte("null"))
}
