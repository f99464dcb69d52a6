package kernels

import (
	"os"
	"strings"
)

// Kernel sets, from slowest to fastest. The set in use is chosen once at
// start-up (see init below) and kept in level; every exported kernel
// switches on it and calls the chosen variant directly, so that escape
// analysis sees through the call and callers' stack buffers stay on the
// stack.
const (
	levelGeneric = iota
	levelAVX2
	levelAVX512
)

var levelNames = [...]string{"generic", "avx2", "avx512"}

var (
	// level is the kernel set in use.
	level = levelGeneric
	// implNote is appended to Impl's answer when the choice was not the
	// natural one for this CPU (for example a failed AVX-512 self-check).
	implNote string
	// forceGeneric is set when LOUPE_KERNELS=generic.
	forceGeneric bool
)

// cpuHasAVX2 and cpuHasAVX512 report what the assembly kernels may use on
// this CPU; they are set by detectCPU (amd64 only) and are false elsewhere.
var cpuHasAVX2, cpuHasAVX512 bool

// cpuHasVNNI reports AVX512-VNNI (VPDPBUSD on zmm) next to AVX-512F; set
// by detectCPU.
var cpuHasVNNI bool

// cpuHasBF16 reports AVX512_BF16 (VDPBF16PS, VCVTNE2PS2BF16) next to
// AVX-512F; set by detectCPU.
var cpuHasBF16 bool

// qVNNI is set when the AVX-512 level's int8 kernels (QLinear) use
// VPDPBUSD: the CPU has AVX512-VNNI and qSelfCheck passed. It is decided
// with the level, once at start-up.
var qVNNI bool

func init() {
	detectCPU()
	level = chooseLevel(os.Getenv("LOUPE_KERNELS"))
}

// chooseLevel picks the kernel set for a LOUPE_KERNELS value: "generic" or
// "avx2" force that set; "", "auto" or "avx512" mean the best the CPU
// supports (an unrecognised value too, noted in Impl). The AVX-512 set is
// only chosen when it passes a self-check against the generic kernels.
func chooseLevel(env string) int {
	implNote = ""
	forceGeneric = false
	qVNNI = false
	bfDot = false
	switch v := strings.ToLower(strings.TrimSpace(env)); v {
	case "", "auto", "avx512":
		// The best available set (AVX-512 still has to pass its self-check).
	case "generic":
		forceGeneric = true
		return levelGeneric
	case "avx2":
		if cpuHasAVX2 {
			return levelAVX2
		}
		implNote = " (avx2 requested but not supported by this CPU)"
		return levelGeneric
	default:
		implNote = " (LOUPE_KERNELS=" + v + " not recognised; want generic, avx2 or avx512)"
	}
	best := levelGeneric
	if cpuHasAVX2 {
		best = levelAVX2
	}
	if cpuHasAVX512 {
		if err := selfCheck(levelAVX512); err == nil {
			best = levelAVX512
		} else {
			implNote += " (avx512 self-check failed: " + err.Error() + ")"
		}
	}
	if best == levelAVX512 && cpuHasVNNI {
		if err := qSelfCheckVNNI(); err == nil {
			qVNNI = true
			implNote = " (int8: vnni)" + implNote
		} else {
			implNote += " (vnni self-check failed: " + err.Error() + ")"
		}
	}
	if best == levelAVX512 && cpuHasBF16 && bfDotWanted {
		if err := bfDotSelfCheck(); err == nil {
			bfDot = true
			implNote = " (bf16: vdpbf16ps)" + implNote
		} else {
			implNote += " (vdpbf16ps self-check failed: " + err.Error() + ")"
		}
	}
	return best
}

// availableLevels lists the kernel sets this CPU can run, generic first.
// The conformance tests run every one of them in the same process.
func availableLevels() []int {
	l := []int{levelGeneric}
	if cpuHasAVX2 {
		l = append(l, levelAVX2)
	}
	if cpuHasAVX512 {
		l = append(l, levelAVX512)
	}
	return l
}

// Impl names the kernel set in use: "avx512", "avx2" or "generic",
// followed by notes in parentheses: " (int8: vnni)" when the int8 kernels
// use AVX512-VNNI, and a note when a faster set was refused (for example
// "avx2 (avx512 self-check failed: ...)").
func Impl() string { return levelNames[level] + implNote }
