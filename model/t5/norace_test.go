//go:build !race

package t5

const raceEnabled = false
