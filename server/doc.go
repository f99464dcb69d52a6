// Package server is loupe's HTTP surface for explanations: the web UI at "/"
// and a JSON API.
//
//	POST /api/generate  {"prompt": "...", "max_new_tokens": 8, "greedy": true, ...}
//	POST /api/explain   {"prompt": "...", "max_new_tokens": 8, "methods": ["grad_x_input"], ...}
//	GET  /healthz
//
// New serves a GPT-2; NewSeq2Seq serves an encoder-decoder (BART, mBART,
// Marian, T5) on the same routes: /api/generate runs it as text-to-text
// (the prompt is the source) and answers the same fields, /api/translate
// and /api/summarize add loupe translate's and loupe summarize's tasks
// (TranslateRequest), /api/explain
// answers seq2seq.Explanation (Seq2SeqExplainRequest), and "/" is the
// encoder-decoder explorable with a source box.
//
// Requests are limited in body size, prompt length, new tokens and
// integrated-gradients steps; violations get a 4xx status and a JSON body
// {"error": "..."}. At most Options.MaxConcurrent explanations run at once;
// the others wait (until their client gives up). The model is shared
// read-only; every request gets its own forward state, so requests never
// see each other's activations.
package server
