// Package progress shows progress bars for long work (downloads, indexing,
// training) on standard error when it is a terminal, and nothing otherwise.
package progress

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar counts units of work done. A nil *Bar is valid and does nothing, so
// library code can take one optionally.
type Bar struct {
	bar *progressbar.ProgressBar
}

// Enabled reports whether progress is shown: standard error is a terminal and
// LOUPE_NO_PROGRESS is unset.
func Enabled() bool {
	return os.Getenv("LOUPE_NO_PROGRESS") == "" && term.IsTerminal(int(os.Stderr.Fd()))
}

// New returns a bar for total units (-1 when unknown) described by desc, or
// nil when progress is not Enabled. If bytes is true the units are shown as
// bytes with a transfer rate.
func New(total int64, desc string, bytes bool) *Bar {
	if !Enabled() {
		return nil
	}
	return NewTo(os.Stderr, total, desc, bytes)
}

// NewTo is New writing to w unconditionally (for tests and callers that
// manage their own output).
func NewTo(w io.Writer, total int64, desc string, bytes bool) *Bar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100e6),
		progressbar.OptionOnCompletion(func() { io.WriteString(w, "\n") }),
		progressbar.OptionShowElapsedTimeOnFinish(),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts())
	}
	return &Bar{bar: progressbar.NewOptions64(total, opts...)}
}

// Add records n more units done.
func (b *Bar) Add(n int64) {
	if b != nil {
		b.bar.Add64(n)
	}
}

// Set records that n units are done in all.
func (b *Bar) Set(n int64) {
	if b != nil {
		b.bar.Set64(n)
	}
}

// Describe changes the text shown beside the bar.
func (b *Bar) Describe(desc string) {
	if b != nil {
		b.bar.Describe(desc)
	}
}

// Finish completes the bar and ends its line.
func (b *Bar) Finish() {
	if b != nil {
		b.bar.Finish()
	}
}

// Writer returns an io.Writer that counts the bytes written through it as
// progress, for wrapping downloads with io.MultiWriter or io.TeeReader.
func (b *Bar) Writer() io.Writer {
	if b == nil {
		return io.Discard
	}
	return b.bar
}

// Reporter returns a progress callback of the shape library functions take
// (done and total units) that makes its bar, described by desc, on the first
// call, when the total is known, and a finish function to call when the work
// ends (whether or not the callback ran).
func Reporter[T ~int | ~int64](desc string, bytes bool) (report func(done, total T), finish func()) {
	var bar *Bar
	report = func(done, total T) {
		if bar == nil {
			bar = New(int64(total), desc, bytes)
		}
		bar.Set(int64(done))
	}
	return report, func() { bar.Finish() }
}
