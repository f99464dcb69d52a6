//go:build !noasm

package kernels

import "golang.org/x/sys/cpu"

// detectCPU sets the feature flags the assembly kernels need. x/sys/cpu
// only reports AVX/AVX-512 when the OS saves the wider registers.
func detectCPU() {
	cpuHasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	cpuHasAVX512 = cpuHasAVX2 && cpu.X86.HasAVX512F
	cpuHasVNNI = cpuHasAVX512 && cpu.X86.HasAVX512VNNI
}
