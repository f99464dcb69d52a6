// Package perplexity measures how well a GPT-2 model predicts a text: the
// perplexity exp(mean negative log-likelihood per token) of one token
// stream, computed with the strided sliding window of Hugging Face
// transformers' guide "Perplexity of fixed-length models".
//
// The simplest use scores token ids with the guide's settings (windows of
// the model's n_positions tokens moving by half of that):
//
//	res, err := perplexity.Evaluate(ctx, m, ids, perplexity.DefaultOptions(m.Config), nil)
//	fmt.Printf("perplexity %.2f over %d tokens\n", res.Perplexity, res.Tokens)
//
// Text goes through Tokenize first, which joins several texts into one
// stream the way the guide joins the lines of WikiText-2's test split:
//
//	ids, err := perplexity.Tokenize(tok, texts) // strings.Join(texts, "\n\n"), tokenized once
//
// # Windows
//
// Window i covers tokens [begin, end) with begin = i·Stride and end =
// min(begin+MaxLength, n); the last window is the first that reaches the
// end of the stream. Of each window only the tokens after the previous
// window's end are targets (the first window: all of them), and a window's
// first token is never one (nothing in the window precedes it), so with
// Stride = MaxLength the first token of each window goes unscored, as in
// the guide. With Stride < MaxLength every target but the stream's first
// token is predicted from at least MaxLength-Stride tokens of context.
//
// # Averaging
//
// The result is exact per token: the sum of -log p(target | context) over
// every target of every window, divided by the number of targets, in
// float64. The guide instead multiplies each window's mean loss by a token
// count (trg_len, or in later versions the count of labels minus one),
// which weighs the first window and a short last window slightly wrongly;
// the difference is small but it is not the per-token mean.
//
// Each window runs the model's KV-cache forward pass (gpt2.State.Forward):
// the context before the first target in one call with no logits, then the
// targets in chunks whose logits are the only [rows, vocab] buffer held.
// Log-softmax is a max, a vectorised sum of exponentials in float64 and a
// logarithm per row.
package perplexity
