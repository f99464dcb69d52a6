//go:build !amd64 || noasm

package kernels

// detectCPU leaves every assembly kernel disabled: on this architecture (or
// with the noasm build tag) only the generic kernels exist.
func detectCPU() {}
