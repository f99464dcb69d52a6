//go:build linux

package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// TestTuneBlocking (LOUPE_TUNE=1) times gemmSerial on one thread in thread
// CPU time (robust to a shared machine) for several blockings.
func TestTuneBlocking(t *testing.T) {
	if os.Getenv("LOUPE_TUNE") == "" {
		t.Skip("set LOUPE_TUNE=1")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rng := rand.New(rand.NewPCG(1, 1))
	m, n, k := 512, 768, 768
	a := randMatrix(rng, m, k)
	b := randMatrix(rng, k, n)
	c := make([]float32, m*n)
	w := new(gemmWork)
	for _, kc := range []int{128, 192, 256, 384} {
		for _, mc := range []int{72, 144, 288} {
			kcBlock, mcBlock = kc, mc
			best := time.Hour
			for r := 0; r < 5; r++ {
				t0 := threadCPU()
				for range 3 {
					gemmSerial(level, w, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				}
				if d := (threadCPU() - t0) / 3; d < best && d > 0 {
					best = d
				}
			}
			fmt.Printf("kc=%d mc=%d: %.1f GFLOP/s (thread CPU time)\n", kc, mc, 2*float64(m*n*k)/best.Seconds()/1e9)
		}
	}
	kcBlock, mcBlock = 256, 144
}

func TestTuneMicro(t *testing.T) {
	if os.Getenv("LOUPE_TUNE") == "" {
		t.Skip("set LOUPE_TUNE=1")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, l := range availableLevels() {
		mr, nr := gemmShape(l)
		const k = 256
		a := make([]float32, mr*k)
		bb := make([]float32, nr*k)
		c := make([]float32, mr*nr)
		best := time.Hour
		for r := 0; r < 5; r++ {
			t0 := threadCPU()
			for range 20000 {
				micro(l, k, a, bb, c, nr, 1, 0)
			}
			if d := (threadCPU() - t0) / 20000; d < best && d > 0 {
				best = d
			}
		}
		fmt.Printf("micro %s: %.1f GFLOP/s (thread CPU time)\n", levelNames[l], 2*float64(mr*nr*k)/best.Seconds()/1e9)
	}
}

func TestTuneGemv(t *testing.T) {
	if os.Getenv("LOUPE_TUNE") == "" {
		t.Skip("set LOUPE_TUNE=1")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct {
		k, n int
		tB   bool
	}{{256, 512, false}, {768, 2304, false}, {256, 512, true}, {768, 2304, true}} {
		br, bc := s.k, s.n
		if s.tB {
			br, bc = s.n, s.k
		}
		b := randMatrix(rng, br, bc)
		x := randMatrix(rng, 1, s.k)
		y := make([]float32, s.n)
		best := time.Hour
		for r := 0; r < 5; r++ {
			t0 := threadCPU()
			for range 50 {
				if s.tB {
					gemvT(level, 0, s.n, 1, s.k, 1, x, s.k, b, bc, 0, y, s.n)
				} else {
					gemvN(level, 0, s.n, 1, s.k, 1, x, s.k, b, bc, 0, y, s.n)
				}
			}
			if d := (threadCPU() - t0) / 50; d < best && d > 0 {
				best = d
			}
		}
		fmt.Printf("gemv k=%d n=%d transB=%v: %.1f GB/s (one thread, thread CPU time)\n", s.k, s.n, s.tB, float64(4*s.k*s.n)/best.Seconds()/1e9)
	}
}
