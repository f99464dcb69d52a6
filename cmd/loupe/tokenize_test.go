package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestTokenizeUTF8: text that is not UTF-8 is an error (naming the line for
// --input), as loupe generate does, not tokenized byte by byte.
func TestTokenizeUTF8(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	out, _, err := runCmd(t, "tokenize", "--model", model, "the hat")
	if err != nil || !strings.Contains(out, "tokens") {
		t.Fatalf("valid text: %q %v", out, err)
	}
	if _, _, err := runCmd(t, "tokenize", "--model", model, "caf\xe9"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 argument: %v", err)
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"ok\"\n\"caf\xe9\"\n"), 0o644)
	_, _, err = runCmd(t, "tokenize", "--model", model, "--input", in)
	if err == nil || !strings.Contains(err.Error(), "line 2 is not valid UTF-8") {
		t.Errorf("non-UTF-8 line: %v", err)
	}
}

func TestBuildVersion(t *testing.T) {
	vcs := func(rev, mod string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
		if rev != "" {
			bi.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: mod}}
		}
		return bi
	}
	for _, c := range []struct {
		ldflag string
		bi     *debug.BuildInfo
		want   string
	}{
		{"v1.2.3", vcs("0123456789abcdef0123", "false"), "v1.2.3"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0"},
		{"", vcs("0123456789abcdef0123", "false"), "devel-0123456789ab"},
		{"", vcs("0123456789abcdef0123", "true"), "devel-0123456789ab-dirty"},
		{"", vcs("", ""), "devel"},
		{"", nil, "devel"},
	} {
		if v, _, _ := buildVersion(c.ldflag, c.bi); v != c.want {
			t.Errorf("%q %+v: %q, want %q", c.ldflag, c.bi, v, c.want)
		}
	}
}

func TestUnknownSubcommand(t *testing.T) {
	resetFlags()
	rootCmd.SetArgs([]string{"index", "frob"})
	err := execute()
	if err == nil || !strings.Contains(err.Error(), `unknown command "frob" for "loupe index"`) {
		t.Errorf("loupe index frob: %v, want an unknown command error", err)
	}
}
