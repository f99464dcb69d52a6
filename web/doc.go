// Package web holds loupe's browser views: one page, one script and one
// style sheet, embedded in the binary with go:embed.
//
// WriteHTML writes a self-contained explorable: the page with the script,
// the style sheet and the explanation's JSON inlined, and a Content Security
// Policy that forbids every network request, so the file works offline and
// leaks nothing. ServerPage is the same page for `loupe serve`: it shows a
// prompt form and fetches explanations from the server's /api/explain (its
// policy allows requests to the page's own origin only).
//
// WriteSeq2SeqHTML writes the encoder-decoder explorable (loupe translate
// --explain-html): a second small page, with its own script, showing a
// seq2seq.Explanation's cross-attention heatmap, offline in the same way.
//
// WriteDiffusionHTML writes the Stable Diffusion explorable (loupe diffuse
// --explain-html): a third page showing a pipeline.Explanation — the image,
// the denoising step by step, and which prompt token the UNet's
// cross-attention tied to which region.
package web
