package pipeline

import (
	"fmt"

	"github.com/loupe-ml/loupe/model/vae"
)

// VAE adapts a model/vae AutoencoderKL to Decoder and Encoder.
type VAE struct{ Model *vae.Model }

// Decode runs the decoder on one latent image.
func (v VAE) Decode(latents []float32, h, w int) ([]float32, error) {
	return v.Model.Decode(latents, 1, h, w)
}

// Encode runs the encoder on one image and returns the posterior's mean and
// (clamped) log-variance.
func (v VAE) Encode(pixels []float32, H, W int) ([]float32, []float32, error) {
	p, err := v.Model.Encode(pixels, 1, H, W)
	if err != nil {
		return nil, nil, err
	}
	if p.Batch != 1 {
		return nil, nil, fmt.Errorf("vae: posterior of batch %d, want 1", p.Batch)
	}
	return p.Mean, p.LogVar, nil
}

// Close releases the VAE's mapped weights.
func (v VAE) Close() error { return v.Model.Close() }
