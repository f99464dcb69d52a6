package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/spf13/cobra"
)

// version is the release version, set at link time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the loupe version, Go version and the kernels in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			commit := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						commit = s.Value
					}
				}
			}
			info := map[string]any{
				"version": version,
				"commit":  commit,
				"go":      runtime.Version(),
				"os":      runtime.GOOS,
				"arch":    runtime.GOARCH,
				"kernels": kernels.Impl(),
				"threads": kernels.Threads(),
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loupe %s (%s) %s %s/%s, kernels %s, %d threads\n",
				version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, kernels.Impl(), kernels.Threads())
			return nil
		},
	})
}
