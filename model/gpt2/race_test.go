//go:build race

package gpt2

// raceEnabled: the race detector changes allocation counts (sync.Pool drops items).
const raceEnabled = true
