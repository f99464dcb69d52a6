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

// execute runs the command line, after making every command group fail on
// an unknown subcommand.
func execute() error {
	requireSubcommand(rootCmd)
	return rootCmd.Execute()
}

// requireSubcommand gives each command group under c (a command with
// subcommands and no action of its own, such as loupe index) an action
// that fails on an unknown subcommand with "unknown command", where cobra
// would print the help and exit 0, and prints the help when none is given.
func requireSubcommand(c *cobra.Command) {
	for _, sub := range c.Commands() {
		if sub.HasSubCommands() && !sub.Runnable() {
			sub.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
		}
		requireSubcommand(sub)
	}
}

// jsonOutput reports whether --format json was given.
func jsonOutput() bool { return outputFormat == "json" }

// jsonOrText writes v to w as JSON with --format json, else what text
// writes.
func jsonOrText(w io.Writer, v any, text func(w io.Writer) error) error {
	if jsonOutput() {
		return writeJSON(w, v)
	}
	return text(w)
}

// jsonOrLine writes v to w as JSON with --format json, else format and
// args.
func jsonOrLine(w io.Writer, v any, format string, args ...any) error {
	return jsonOrText(w, v, func(w io.Writer) error { _, err := fmt.Fprintf(w, format, args...); return err })
}

// writeJSON writes v to w as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
