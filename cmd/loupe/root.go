package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// rootCmd is the loupe command. Subcommands register themselves from their own
// files with rootCmd.AddCommand in an init function.
var rootCmd = &cobra.Command{
	Use:           "loupe",
	Short:         "Run, explain and search with transformer language models on a CPU",
	SilenceUsage:  true,
	SilenceErrors: true,
	PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
		switch outputFormat {
		case "text", "json":
			return nil
		}
		return fmt.Errorf("unknown --format %q: want text or json", outputFormat)
	},
}

// outputFormat is the value of the global --format flag: "text" or "json".
var outputFormat string

func init() {
	rootCmd.PersistentFlags().StringVar(&outputFormat, "format", "text", "output format: text or json")
	rootCmd.SetErrPrefix("loupe:")
}

// jsonOutput reports whether --format json was given.
func jsonOutput() bool { return outputFormat == "json" }

// writeJSON writes v to w as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
