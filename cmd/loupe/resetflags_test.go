package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// resetFlags puts every flag of every command back to its default, as a new
// process would have it. Cobra keeps parsed values between in-process runs,
// so without this a test would see flags an earlier test set.
func resetFlags() {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					var vals []string
					if def := strings.Trim(f.DefValue, "[]"); def != "" {
						vals = strings.Split(def, ",")
					}
					sv.Replace(vals)
				} else if s, ok := f.Value.(interface{ unset() }); ok {
					s.unset()
				} else {
					f.Value.Set(f.DefValue)
				}
				f.Changed = false
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(rootCmd)
}

// unset makes the setting not given again.
func (s setting[T]) unset() { *s.p = nil }
