package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
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
		if v, _, _ := Version(c.ldflag, c.bi); v != c.want {
			t.Errorf("%q %+v: %q, want %q", c.ldflag, c.bi, v, c.want)
		}
	}
}
