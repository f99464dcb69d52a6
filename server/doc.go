// Package server is loupe's HTTP surface for explanations: the web UI at "/"
// and a JSON API.
//
//	POST /api/generate  {"prompt": "...", "max_new_tokens": 8, "greedy": true, ...}
//	POST /api/explain   {"prompt": "...", "max_new_tokens": 8, "methods": ["grad_x_input"], ...}
//	GET  /healthz
//
// Requests are limited in body size, prompt length, new tokens and
// integrated-gradients steps; violations get a 4xx status and a JSON body
// {"error": "..."}. At most Options.MaxConcurrent explanations run at once;
// the others wait (until their client gives up). The model is shared
// read-only; every request gets its own forward state, so requests never
// see each other's activations.
package server
