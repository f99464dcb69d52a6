//go:build !amd64 || noasm

package kernels

// spinPause does nothing here: a busy-wait loop just polls.
func spinPause() {}
