//go:build unix

package retrieval

import (
	"errors"
	"syscall"
)

// processAlive reports whether process pid is running (or may be: one
// that exists but belongs to another user counts).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
