//go:build !noasm

package kernels

import "golang.org/x/sys/cpu"

// detectCPU sets the feature flags the assembly kernels need. x/sys/cpu
// only reports AVX/AVX-512 when the OS saves the wider registers. The AVX2
// level also needs F16C (VCVTPH2PS, the float16 kernels), which every CPU
// with AVX2 has.
func detectCPU() {
	cpuHasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
	cpuHasAVX512 = cpuHasAVX2 && cpu.X86.HasAVX512F
	cpuHasVNNI = cpuHasAVX512 && cpu.X86.HasAVX512VNNI
	cpuHasBF16 = cpuHasAVX512 && cpu.X86.HasAVX512BF16
}
