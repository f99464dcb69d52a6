package main

// Helpers shared by the commands over the embed, search, index and classify
// packages: flag registration, library errors mapped to flag names,
// embedding options and progress bars.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/classify"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/progress"
)

// filterUsage is the help of every --filter flag.
const filterUsage = "metadata filter key=value (repeatable; all must hold)"

// addEmbedFlags registers --batch-size and --quantize; suffix ends their
// help (" (with --input)").
func addEmbedFlags(f *pflag.FlagSet, batchSize *int, quantize *string, suffix string) {
	f.IntVar(batchSize, "batch-size", embed.DefaultBatchSize, fmt.Sprintf("texts per forward pass (0: the default, %d)%s", embed.DefaultBatchSize, suffix))
	f.StringVar(quantize, "quantize", "", "compute precision of the encoder: float32 (default), int8 (dynamic int8, like torch quantize_dynamic) or int7"+suffix)
}

// addFilterFlags registers --filter and its old spelling --where.
func addFilterFlags(f *pflag.FlagSet, filter, where *[]string) {
	f.StringArrayVar(filter, "filter", nil, filterUsage)
	f.StringArrayVar(where, "where", nil, filterUsage)
	f.MarkHidden("where")
	f.MarkDeprecated("where", "use --filter")
}

// optionFlags names the flag of each library option field (embed.Options,
// search.SearchOptions, index.Options and SearchOptions, classify.Options)
// in errors. Fields not listed (index's Kind and Metric) keep the
// library's message.
var optionFlags = map[string]string{
	"BatchSize": "--batch-size", "MaxSeqLength": "--max-seq-length", "Quantize": "--quantize",
	"K": "--k", "Ef": "--ef", "Filter": "--filter", "Threads": "--threads", "Model": "--model",
	"M": "--m", "EfConstruction": "--ef-construction", "NTrees": "--n-trees", "LeafSize": "--leaf-size", "SearchK": "--search-k",
	"C": "--C", "MaxIter": "--max-iter", "Tol": "--tol", "ClassWeight": "--class-weight",
}

// optionError returns the field, value and allowed values of a library
// option error.
func optionError(err error) (field string, value any, allowed string, ok bool) {
	var ee *embed.OptionError
	var ie *index.OptionError
	var ce *classify.OptionError
	switch {
	case errors.As(err, &ee):
		return ee.Field, ee.Value, ee.Allowed, true
	case errors.As(err, &ie):
		return ie.Field, ie.Value, ie.Allowed, true
	case errors.As(err, &ce):
		return ce.Field, ce.Value, ce.Allowed, true
	}
	return "", nil, "", false
}

// cmdError prefixes err with the command name (once, in place of the
// package's own prefix: "index build: " for "index: ") and rewrites a
// library option error with the option's flag name.
func cmdError(cmd string, err error) error {
	if field, value, allowed, ok := optionError(err); ok && optionFlags[field] != "" {
		return fmt.Errorf("%s: %s %v: want %s", cmd, optionFlags[field], value, allowed)
	}
	if strings.HasPrefix(err.Error(), cmd+": ") {
		return err
	}
	return &prefixed{msg: cmd + ": " + trimPkg(err), err: err}
}

// trimPkg returns err's message without its package prefix ("index: ").
func trimPkg(err error) string {
	msg := err.Error()
	for _, p := range []string{"index: ", "search: ", "classify: ", "embed: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// prefixed is an error with a rewritten message that still unwraps to the
// original.
type prefixed struct {
	msg string
	err error
}

func (p *prefixed) Error() string { return p.msg }
func (p *prefixed) Unwrap() error { return p.err }

// embedOptions are the embed.Options of CLI flags, with a hub client
// that shows download progress on a terminal.
func embedOptions(batchSize, maxSeq int, quantize string) embed.Options {
	return embed.Options{BatchSize: batchSize, MaxSeqLength: maxSeq, Client: hubClient(), Quantize: quantize}
}

// loadEmbedModel loads an embedding model for command name with CLI
// options; the returned bar shows the progress of its Embed calls.
func loadEmbedModel(cmd *cobra.Command, name, ref string, opts embed.Options) (*embed.Model, *stageBars, error) {
	bar := &stageBars{}
	opts.Progress = func(done, total int) { bar.set("embedding", done, total) }
	m, err := embed.LoadWith(cmd.Context(), ref, opts)
	if err != nil {
		return nil, nil, cmdError(name, err)
	}
	return m, bar, nil
}

// stageBars shows a progress bar per stage (embedding, indexing) on a
// terminal, ended when its stage is done or at finish.
type stageBars struct {
	mu    sync.Mutex
	stage string
	bar   *progress.Bar // nil (valid, doing nothing) when none is shown
}

// set reports done of total for stage: a search.AddOptions.Progress.
func (b *stageBars) set(stage string, done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar == nil || b.stage != stage {
		b.bar.Finish()
		b.bar, b.stage = progress.New(int64(total), stage, false), stage
	}
	b.bar.Set(int64(done))
	if done == total {
		b.bar.Finish()
		b.bar = nil
	}
}

// finish ends the bar shown, if any.
func (b *stageBars) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar.Finish()
	b.bar = nil
}

// checkUTF8Args reports the first argument that is not valid UTF-8.
func checkUTF8Args(cmdName string, args []string) error {
	for i, a := range args {
		if !utf8.ValidString(a) {
			return fmt.Errorf("%s: text argument %d is not valid UTF-8 (loupe reads UTF-8 text only)", cmdName, i+1)
		}
	}
	return nil
}

// hideTempName rewrites an error from an atomic write whose text names the
// temporary file (".NAME.tmp-123") so that it names only the cause: the
// caller's message names the real output path.
func hideTempName(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(filepath.Base(pe.Path), ".tmp-") {
		return fmt.Errorf("%s: %w", strings.Replace(err.Error(), pe.Error(), pe.Op, 1), pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) && strings.Contains(filepath.Base(le.Old), ".tmp-") {
		return fmt.Errorf("%s: %w", strings.Replace(err.Error(), le.Error(), le.Op, 1), le.Err)
	}
	return err
}
