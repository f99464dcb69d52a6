package gpt2

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// peakRSS returns the process's peak resident set size in bytes (VmHWM), or
// -1 where /proc is not available.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// TestPeakRSS loads the checkpoint directory $LOUPE_RSS_DIR (any format; see
// testdata/gen_rss.py for a GPT-2 small pytorch_model.bin), runs one
// forward pass and checks that the process's peak RSS stays within 1.3× the
// model's float32 weight bytes: F32 weights must be used in place in the
// mapping, never copied. Run it alone (-run TestPeakRSS): the peak is the
// whole process's.
func TestPeakRSS(t *testing.T) {
	dir := os.Getenv("LOUPE_RSS_DIR")
	if dir == "" {
		t.Skip("set LOUPE_RSS_DIR to a model directory (see testdata/gen_rss.py)")
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewState(StateOptions{})
	if err := s.Forward([][]int{{464, 2068, 7586, 21831, 18045, 625, 262, 16931}}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	peak, w := peakRSS(), m.WeightBytes()
	if peak < 0 {
		t.Skip("no /proc/self/status")
	}
	t.Logf("%s (%s): peak RSS %.1f MB, float32 weights %.1f MB, ratio %.3f",
		dir, m.file.Path(), float64(peak)/1e6, float64(w)/1e6, float64(peak)/float64(w))
	if float64(peak) > 1.3*float64(w) {
		t.Errorf("peak RSS %d bytes is more than 1.3× the %d weight bytes", peak, w)
	}
}
