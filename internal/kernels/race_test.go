//go:build race

package kernels

// raceEnabled: the race detector changes allocation counts (sync.Pool drops
// items at random), so the zero-allocation tests skip under it.
const raceEnabled = true
