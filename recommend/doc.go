// Package recommend turns item embeddings into a recommender, the way
// item2vec, Airbnb, Alibaba, Spotify and Anghami do: sessions are sentences
// and items are words.
//
// Train learns item vectors with word2vec's trainer (word2vec.TrainSentences:
// skip-gram and negative sampling, no subsampling) over sessions (one
// session per line, item ids separated by white space), the whole session
// as every item's context unless Window is set. Start from DefaultOptions.
// Two options follow Airbnb's listing embeddings (Grbovic and Cheng, KDD 2018):
// GlobalContext makes the session's last item (the "booked" one) a context
// of every item in the session, as an extra positive pair, and Markets
// draws half of the negatives from the market of the positive item, so that
// the vectors also separate items within a market.
//
// A trained Model is a word2vec file (items most frequent first), so
// gensim and the word2vec tools read it too. Similar ranks items by cosine
// similarity; ForUser builds a time-decayed profile from a user's recent
// items and ranks the unseen items against it; Evaluate measures hit-rate@K
// and MRR@K on held-out next items against a most-popular baseline.
// Synthesize generates sessions with a known group structure for tests and
// demonstrations.
//
// Every options type has a Default… constructor (DefaultOptions,
// DefaultProfileOptions, DefaultEvalOptions, DefaultSynthOptions); their
// zero values are not defaults, and a value that means nothing is a
// *word2vec.OptionError naming the field. Errors carry one "recommend: "
// prefix, also those passed through from word2vec.
package recommend
