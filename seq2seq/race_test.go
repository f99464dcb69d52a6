//go:build race

package seq2seq

// raceEnabled: the race detector changes allocation counts (sync.Pool drops items).
const raceEnabled = true
