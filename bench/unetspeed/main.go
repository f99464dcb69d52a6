//go:build unix

// Command unetspeed times steps of a Stable Diffusion UNet (package
// model/unet) on the inputs that model/unet/testdata/unet_reference.py
// wrote with "gen DIR" (DIR/unet, DIR/sample.npy, DIR/encoder.npy and
// DIR/case.json for the batch, size and timesteps):
//
//	GOMAXPROCS=2 go run ./bench/unetspeed -dir DIR [-steps 2] [-out loupe_out.npy]
//
// It prints JSON: the seconds (wall and CPU) of each step, the split of the last step by
// kind of work (unet.Timings), the weights' precision, the process's peak
// resident memory (VmHWM, mapped weights included) and the memory the Go
// runtime holds (activations, converted weights, garbage not yet returned). bench/diffusion.sh
// runs it next to PyTorch.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/unet"
	"github.com/loupe-ml/loupe/npy"
)

func main() {
	dir := flag.String("dir", "", "directory written by unet_reference.py gen")
	steps := flag.Int("steps", 2, "steps to time")
	out := flag.String("out", "", "write the last step's output here (.npy, 2-D)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the steps here")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "unetspeed:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*dir, *steps, *out); err != nil {
		fmt.Fprintln(os.Stderr, "unetspeed:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(dir string, steps int, outPath string) error {
	var c struct {
		Batch, Height, Width, Seq int
		Timesteps                 []float64
	}
	b, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	t0 := time.Now()
	m, err := unet.Load(filepath.Join(dir, "unet"))
	if err != nil {
		return err
	}
	defer m.Close()
	load := time.Since(t0)
	sample, _, _, err := npy.ReadFloat32(filepath.Join(dir, "sample.npy"))
	if err != nil {
		return err
	}
	enc, _, _, err := npy.ReadFloat32(filepath.Join(dir, "encoder.npy"))
	if err != nil {
		return err
	}
	in := unet.Input{Sample: sample, Batch: c.Batch, Height: c.Height, Width: c.Width,
		Timesteps: c.Timesteps, Encoder: enc, Seq: c.Seq}
	var secs, cpus []float64
	var tm unet.Timings
	var res *unet.Output
	for range steps {
		tm = unet.Timings{}
		c0 := cpuSeconds()
		start := time.Now()
		res, err = m.Forward(nil, in, unet.Options{Timings: &tm})
		if err != nil {
			return err
		}
		secs = append(secs, time.Since(start).Seconds())
		cpus = append(cpus, cpuSeconds()-c0)
	}
	if outPath != "" {
		cols := c.Width
		if err := npy.WriteFloat32(outPath, res.Sample, len(res.Sample)/cols, cols); err != nil {
			return err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	frac := func(d time.Duration) float64 { return d.Seconds() }
	report := map[string]any{
		"threads":     kernels.Threads(),
		"gomaxprocs":  runtime.GOMAXPROCS(0),
		"kernels":     kernels.Impl(),
		"precision":   m.Precision(),
		"load_s":      load.Seconds(),
		"seconds":     secs,
		"cpu_seconds": cpus, // user+system CPU time of each step (all threads)
		"peak_rss_mb": peakRSS(),
		"go_sys_mb":   float64(ms.Sys) / (1 << 20), // memory the Go runtime holds (heap, stacks)
		"last_step": map[string]float64{
			"conv_s": frac(tm.Conv), "attention_s": frac(tm.Attention), "groupnorm_s": frac(tm.GroupNorm),
			"linear_s": frac(tm.Linear), "convert_s": frac(tm.Convert), "other_s": frac(tm.Other), "total_s": frac(tm.Total),
		},
	}
	j, _ := json.Marshal(report)
	fmt.Println(string(j))
	return nil
}

// cpuSeconds is the process's user+system CPU time so far.
func cpuSeconds() float64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}

// peakRSS is VmHWM from /proc/self/status in MB (0 where unavailable).
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
