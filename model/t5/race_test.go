//go:build race

package t5

// raceEnabled: the race detector changes allocation counts (sync.Pool drops items).
const raceEnabled = true
