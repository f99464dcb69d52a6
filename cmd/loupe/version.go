package main

import (
	"runtime"
	"runtime/debug"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/spf13/cobra"
)

// version is the release version, set at link time with
// -ldflags "-X main.version=v1.2.3".
var version = ""

// versionInfo is what loupe version prints.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`   // vcs.revision, "" when unknown
	Modified bool   `json:"modified"` // vcs.modified: built from a checkout with uncommitted changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Kernels  string `json:"kernels"`
	Threads  int    `json:"threads"`
}

// buildVersion names the build: the -X main.version of a release; else
// the module version of `go install ...@vX`; else, for a build from a
// checkout, "devel-" and the commit's first 12 digits (and "-dirty" with
// uncommitted changes), as Go stamps them (vcs.revision, vcs.modified);
// else "devel" (built with -buildvcs=false or outside a checkout).
func buildVersion(ldflag string, bi *debug.BuildInfo) (v, commit string, modified bool) {
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
	case ldflag != "":
		return ldflag, commit, modified
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

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the loupe version, Go version and the kernels in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bi, _ := debug.ReadBuildInfo()
			info := versionInfo{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
				Kernels: kernels.Impl(), Threads: kernels.Threads()}
			info.Version, info.Commit, info.Modified = buildVersion(version, bi)
			return jsonOrLine(cmd.OutOrStdout(), info, "loupe %s %s %s/%s, kernels %s, %d threads\n",
				info.Version, info.Go, info.OS, info.Arch, info.Kernels, info.Threads)
		},
	})
}
