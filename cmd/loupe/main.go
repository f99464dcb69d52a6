// Command loupe runs, explains and searches with transformer language models
// on a CPU. Each capability is a subcommand; `loupe help` lists them.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := execute(); err != nil {
		fmt.Fprintln(os.Stderr, "loupe:", err)
		os.Exit(1)
	}
}
