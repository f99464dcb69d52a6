//go:build race

package word2vec

// raceEnabled: Hogwild training races on purpose (lock-free updates of
// shared vectors), so tests train with one thread under the race detector.
const raceEnabled = true
