package train

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/loupe-ml/loupe/model/gpt2"
)

func testReport() Report {
	h := History{Tokens: 4096, StepSeconds: 2, Seconds: 2.5}
	for s := 0; s < 40; s++ {
		h.Losses = append(h.Losses, 5-float64(s)*0.05)
		h.LRs = append(h.LRs, 1e-3)
		h.GradNorms = append(h.GradNorms, 1)
	}
	h.EvalLosses = []EvalPoint{{10, 4.6}, {20, 4.1}, {40, 3.2}}
	return Report{Title: "Training report: <test>", Model: gpt2.Config{NLayer: 2, NHead: 4, NEmbd: 64, NPositions: 32, VocabSize: 100, Activation: "gelu_new"},
		Params: 108544, Options: DefaultOptions(), History: h, TrainTokens: 3000, EvalTokens: 1000}
}

func TestReportHTML(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().Render(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"&lt;test&gt;", "<polyline", `id="ppl">24.53<`, `id="tps">2048<`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("report holds %q: it must be one offline file", bad)
		}
	}
	// An empty history still renders.
	var e bytes.Buffer
	if err := (Report{Title: "empty"}).Render(&e); err != nil || !strings.Contains(e.String(), "no data") {
		t.Errorf("empty report: %v", err)
	}
}

// TestReportInBrowser opens the report in headless chromium offline and
// checks what it draws: the training curve with one point per step and
// one marker per evaluation, and no request leaving the file.
func TestReportInBrowser(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("LOUPE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("LOUPE_REQUIRE_CHROMIUM=1 but %s is missing", chromium)
		}
		t.Skip("no chromium")
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteReport(path, testReport()); err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	var mu sync.Mutex
	var requests []string
	sent := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range sent {
			if err != nil {
				return
			}
			mu.Lock()
			requests = append(requests, ev.Request.URL)
			mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[
		document.querySelector('#loss polyline').getAttribute('points').trim().split(/\s+/).length,
		document.querySelectorAll('#loss circle').length,
		document.querySelectorAll('svg').length,
		document.querySelector('#loss svg').getBoundingClientRect().width]`))
	if err != nil {
		t.Fatal(err)
	}
	points, markers, charts, width := got[0], got[1], got[2], got[3]
	if points != 40 || markers != 3 || charts != 3 || !(width > 100) || math.IsNaN(width) {
		t.Errorf("loss chart: %v points (want 40), %v evaluation markers (want 3), %v charts (want 3), width %v", points, markers, charts, width)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) == 0 {
		t.Error("saw no request at all: the request log does not work")
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, "file://") {
			t.Errorf("the report requested %s", u)
		}
	}
}
