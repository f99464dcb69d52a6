// Package buildinfo names the build of the running binary: its version,
// commit, Go version, platform and the kernels it computes with (loupe
// version).
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Info is what loupe version prints.
type Info struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`   // vcs.revision, "" when unknown
	Modified bool   `json:"modified"` // vcs.modified: built from a checkout with uncommitted changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Kernels  string `json:"kernels"`
	Threads  int    `json:"threads"`
}

// Get describes the running binary; release is the version set at link
// time (-ldflags "-X main.version=v1.2.3"), "" when none was.
func Get(release string) Info {
	bi, _ := debug.ReadBuildInfo()
	info := Info{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Kernels: kernels.Impl(), Threads: kernels.Threads()}
	info.Version, info.Commit, info.Modified = Version(release, bi)
	return info
}

// Version names the build: release, the version set at link time; else
// the module version of `go install ...@vX`; else, for a build from a
// checkout, "devel-" and the commit's first 12 digits (and "-dirty" with
// uncommitted changes), as Go stamps them (vcs.revision, vcs.modified);
// else "devel" (built with -buildvcs=false or outside a checkout).
func Version(release string, bi *debug.BuildInfo) (v, commit string, modified bool) {
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	switch {
	case release != "":
		return release, commit, modified
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		return bi.Main.Version, commit, modified
	case commit != "":
		v = "devel-" + commit[:min(12, len(commit))]
		if modified {
			v += "-dirty"
		}
		return v, commit, modified
	}
	return "devel", "", false
}
