//go:build !noasm

package kernels

// spinPause is the x86 PAUSE instruction: a hint inside a busy-wait loop
// that lets the other hardware thread of the core run and saves power.
//
//go:noescape
func spinPause()
