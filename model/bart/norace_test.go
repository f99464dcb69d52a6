//go:build !race

package bart

const raceEnabled = false
