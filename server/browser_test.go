package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/web"
)

const chromiumPath = "/usr/bin/chromium"

// requestLog records every request the page makes and which ones the test
// blocked for leaving this machine.
type requestLog struct {
	mu         sync.Mutex
	seen       []string
	blocked    []string
	exceptions []string
}

func (l *requestLog) add(list *[]string, u string) {
	l.mu.Lock()
	*list = append(*list, u)
	l.mu.Unlock()
}

func (l *requestLog) snapshot() (seen, blocked []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...), append([]string(nil), l.blocked...)
}

// noExceptions fails the test if the page threw an uncaught exception.
func (l *requestLog) noExceptions(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.exceptions) > 0 {
		t.Fatalf("the page threw: %v", l.exceptions)
	}
}

// local reports whether u stays on this machine.
func local(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch p.Scheme {
	case "file", "data", "about", "blob":
		return true
	case "http", "https", "ws", "wss":
		h := p.Hostname()
		return h == "127.0.0.1" || h == "localhost" || h == "::1"
	}
	return false
}

// newBrowser starts headless Chromium with a fresh profile, blocks every
// request that would leave the machine and logs all requests.
func newBrowser(t *testing.T) (context.Context, *requestLog) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("LOUPE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("LOUPE_REQUIRE_CHROMIUM=1 but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("no %s (install Debian's chromium; LOUPE_REQUIRE_CHROMIUM=1 makes this a failure)", chromiumPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1600),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	log := &requestLog{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			log.add(&log.exceptions, msg)
		}
	}); err != nil {
		t.Fatal(err)
	}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	sent := chromedp.Events(ctx, network.RequestWillBeSent)
	// Attach the tab and turn on request interception and logging.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range sent {
			if err != nil {
				return
			}
			log.add(&log.seen, ev.Request.URL)
		}
	}()
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if local(ev.Request.URL) {
				chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			log.add(&log.blocked, ev.Request.URL)
			chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	return ctx, log
}

// shading returns the background colours of the saliency view's tokens.
func shading(ctx context.Context) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#saliency-tokens .tok')).map(s => s.style.backgroundColor)`))
}

// hover moves the mouse onto output token i (a real mouse event, so the
// page's mouseenter handler runs).
func hover(ctx context.Context, i int) error {
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(
		`(() => { const e = document.querySelector('#saliency-tokens .tok.out[data-i="%d"]'); e.scrollIntoView({block: "center"});
		  const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`, i)))
	if err != nil {
		return err
	}
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1)); err != nil {
		return err
	}
	return chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0], box[1]))
}

// checkHover hovers two output tokens and checks that the input tokens'
// shading appears and then changes, saving a screenshot.
func checkHover(t *testing.T, ctx context.Context, prompt int, shot string) {
	t.Helper()
	before, err := shading(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < prompt; j++ {
		if before[j] != "" {
			t.Fatalf("input token %d shaded (%q) before any hover", j, before[j])
		}
	}
	if err := hover(ctx, 0); err != nil {
		t.Fatal(err)
	}
	first, _ := shading(ctx)
	for j := 0; j < prompt; j++ {
		if !strings.HasPrefix(first[j], "rgba(") && !strings.HasPrefix(first[j], "rgb(") {
			t.Fatalf("after hovering output 0, input token %d has background %q", j, first[j])
		}
	}
	if err := hover(ctx, 2); err != nil {
		t.Fatal(err)
	}
	second, _ := shading(ctx)
	if strings.Join(first[:prompt], ";") == strings.Join(second[:prompt], ";") {
		t.Fatalf("hovering another output token left the input shading unchanged: %v", first[:prompt])
	}
	detail, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('saliency-detail').textContent`))
	if err != nil || !strings.Contains(detail, "%") {
		t.Fatalf("detail view %q, %v", detail, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("LOUPE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, shot)
	if err := atomicfile.WriteFile(path, png); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

func TestBrowserHTMLFile(t *testing.T) {
	e := newServer(t, testPipeline(t), Options{}).e
	res, err := e.Explain(context.Background(), explain.Request{Prompt: "the hat at the", Generate: generate.Options{MaxNewTokens: 4,
		Sampling: generate.Sampling{Greedy: true}}, Options: explain.Options{Methods: explain.Methods, IGSteps: 5, NMFComponents: 3, ToLayer: -1, Watch: []int{32},
		Interventions: []explain.Intervention{{Layer: 0, Neuron: 1, Scale: 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "explain.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := web.WriteHTML(f, "test", res); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ctx, log := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(`body[data-rendered="1"]`)); err != nil {
		t.Fatal(err)
	}
	checkHover(t, ctx, res.PromptLength, "explain-file.png")
	// Every view rendered.
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#rankings-table td, #nmf .spark, #model-view canvas, #head-view line, #watch-table td').length`))
	if err != nil || n < 10 {
		t.Fatalf("views have %d cells/lines, %v", n, err)
	}
	// The intervention view shows the continuations' text (spaces as
	// spaces), not the display tokens (spaces as ␣).
	iv, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#intervention p')).map(p => p.textContent)`))
	want := []string{"baseline:   " + res.Intervention.BaselineString, "intervened: " + res.Intervention.ChangedString}
	if err != nil || !slices.Equal(iv, want) {
		t.Fatalf("intervention view %q, want %q (%v)", iv, want, err)
	}
	log.noExceptions(t)
	seen, blocked := log.snapshot()
	if len(blocked) > 0 {
		t.Fatalf("the HTML file tried to reach the network: %v", blocked)
	}
	for _, u := range seen {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			t.Fatalf("the HTML file made a request to %s", u)
		}
	}
}

func TestBrowserServedPage(t *testing.T) {
	s := newServer(t, testPipeline(t), Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, log := newBrowser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(`#explain-form`),
		chromedp.SetValue(`#prompt`, "the hat at the"),
		chromedp.SetValue(`#max-new-tokens`, "4"),
		chromedp.Click(`#go`),
		chromedp.WaitVisible(`body[data-rendered="1"]`),
	); err != nil {
		t.Fatal(err)
	}
	prompt := len(s.e.Tok.Encode("the hat at the"))
	checkHover(t, ctx, prompt, "explain-served.png")
	log.noExceptions(t)
	seen, blocked := log.snapshot()
	if len(blocked) > 0 {
		t.Fatalf("the served page tried to reach the network: %v", blocked)
	}
	var api bool
	for _, u := range seen {
		api = api || strings.HasSuffix(u, "/api/explain")
	}
	if !api {
		t.Fatalf("no request to /api/explain among %v", seen)
	}
	// A request that fails (a watched word of two tokens) clears the old
	// results and shows the error; the sampling fields go into the request.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#decoding`, "sample"),
		chromedp.SetValue(`#seed`, "3"),
		chromedp.SetValue(`#temperature`, "0.8"),
		chromedp.SetValue(`#watch`, " hat"),
		chromedp.Click(`#go`),
	); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cls, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('status').className`))
		if err != nil {
			t.Fatal(err)
		}
		if cls == "error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error shown for a bad request")
		}
	}
	views, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById('views').childElementCount`))
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('status').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if views != 0 || !strings.Contains(status, "watch") {
		t.Errorf("after an error: %d views left, status %q", views, status)
	}
}
