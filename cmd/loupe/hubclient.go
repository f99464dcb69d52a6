package main

import (
	"os"

	"github.com/loupe-ml/loupe/hub"
)

// hubClient returns the hub client every command fetches models with: the
// environment's settings (HF_HOME, HF_HUB_OFFLINE, ...), with a progress
// bar on standard error when it is a terminal and
// HF_HUB_DISABLE_PROGRESS_BARS is not set.
func hubClient() *hub.Client {
	c := hub.NewClient()
	c.ShowProgress = c.ShowProgress && isTerminal(os.Stderr)
	return c
}
