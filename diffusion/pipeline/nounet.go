//go:build !sdpipe_unet

package pipeline

import (
	"errors"
	"fmt"
)

// ErrNoUNet says that this build of loupe has no UNet to run unet/ with:
// package model/unet is not on this branch yet (build with -tags
// sdpipe_unet where it is).
var ErrNoUNet = errors.New("loupe has no UNet implementation yet (issue 16)")

// loadUNet would load unet/; without model/unet it says so.
func loadUNet(p *Pipeline, dir string) error {
	return fmt.Errorf("pipeline: %s: %w", dir, ErrNoUNet)
}

func unetShape(Denoiser) (sample, in, out int) { return 0, 0, 0 }
