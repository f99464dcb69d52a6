package main

import (
	"github.com/loupe-ml/loupe/internal/buildinfo"
	"github.com/spf13/cobra"
)

// version is the release version, set at link time with
// -ldflags "-X main.version=v1.2.3".
var version = ""

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the loupe version, Go version and the kernels in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Get(version)
			return jsonOrLine(cmd.OutOrStdout(), info, "loupe %s %s %s/%s, kernels %s, %d threads\n",
				info.Version, info.Go, info.OS, info.Arch, info.Kernels, info.Threads)
		},
	})
}
