//go:build race

package bart

// raceEnabled: the race detector changes allocation counts (sync.Pool drops items).
const raceEnabled = true
