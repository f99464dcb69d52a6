package pipeline

import (
	"fmt"

	"github.com/loupe-ml/loupe/model/unet"
)

// UNet adapts a model/unet UNet2DConditionModel to Denoiser. Cross-attention
// maps, when asked for, are those of every attn2 layer for the last batch
// item (the prompt's half under guidance), each resampled (nearest) to the
// latent grid and averaged over layers; model/unet has already averaged
// them over heads.
type UNet struct{ Model *unet.Model }

// Denoise runs the UNet.
func (u UNet) Denoise(in DenoiseInput) (DenoiseOutput, error) {
	out, err := u.Model.Forward(nil, unet.Input{
		Sample: in.Latents, Batch: in.Batch, Height: in.Height, Width: in.Width,
		Timesteps: []float64{in.Timestep}, Encoder: in.Text, Seq: in.Tokens,
	}, unet.Options{CrossAttention: in.CaptureAttention})
	if err != nil {
		return DenoiseOutput{}, err
	}
	res := DenoiseOutput{Output: out.Sample}
	if in.CaptureAttention && len(out.CrossAttention) == in.Batch {
		res.Attention = averageMaps(out.CrossAttention[in.Batch-1], in.Height, in.Width, in.Tokens)
	}
	return res, nil
}

// averageMaps resamples each layer's [h·w, tokens] probabilities to the
// latent grid and averages them into [tokens, H·W].
func averageMaps(layers []unet.AttentionMap, H, W, T int) *AttentionMaps {
	if len(layers) == 0 {
		return nil
	}
	m := &AttentionMaps{Height: H, Width: W, Tokens: T, Maps: make([]float32, T*H*W)}
	n := 0
	for _, l := range layers {
		if l.Tokens != T || len(l.Probs) != l.Height*l.Width*T || l.Height < 1 || l.Width < 1 {
			continue
		}
		for y := range H {
			ly := y * l.Height / H
			for x := range W {
				lx := x * l.Width / W
				row := l.Probs[(ly*l.Width+lx)*T:][:T]
				for k, v := range row {
					m.Maps[k*H*W+y*W+x] += v
				}
			}
		}
		n++
	}
	if n == 0 {
		return nil
	}
	for j := range m.Maps {
		m.Maps[j] /= float32(n)
	}
	return m
}

// Trim releases the UNet's buffers and the resident pages of its mapped
// weights until its next call (unet.Model.Trim).
func (u UNet) Trim() error { return u.Model.Trim() }

// Close releases the UNet's mapped weights.
func (u UNet) Close() error { return u.Model.Close() }

// loadUNet loads unet/ into p.UNet and sets p.DefaultSize.
func loadUNet(p *Pipeline, dir string) error {
	u, err := unet.Load(dir)
	if err != nil {
		return err
	}
	p.UNet = UNet{u}
	if c := u.Config; c.CrossAttentionDim != p.TextEncoder.Config.HiddenSize {
		return fmt.Errorf("pipeline: %s: cross_attention_dim %d differs from the text encoder's hidden_size %d", dir, c.CrossAttentionDim, p.TextEncoder.Config.HiddenSize)
	}
	return nil
}

// unetShape returns the UNet's sample_size and its in and out channels.
func unetShape(d Denoiser) (sample, in, out int) {
	c := d.(UNet).Model.Config
	return c.SampleSize, c.InChannels, c.OutChannels
}
