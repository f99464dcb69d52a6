package sdfiles_test

import (
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/diffusion/sdfiles"
	"github.com/loupe-ml/loupe/model/unet"
)

// TestSingleFileUNet loads the tiny UNet of a CompVis-style single file
// (F32 and F16, SD 1.x and 2.x layouts) into model/unet with the config the
// file implies, and checks that it predicts what the same diffusers-named
// weights predict.
func TestSingleFileUNet(t *testing.T) {
	_, vw, _ := vaeCase(t)
	for _, c := range []struct {
		name, dtype string
		v2          bool
	}{{"v1-F32", "F32", false}, {"v1-F16", "F16", false}, {"v2-F32", "F32", true}} {
		t.Run(c.name, func(t *testing.T) {
			g := tinyUNet
			layers := 2
			if c.v2 {
				g.cross, g.linearProj, layers = 32, true, 3
			}
			uw := diffusersUNet(noise.NewGenerator(7), g)
			cw := diffusersCLIP(noise.NewGenerator(8), layers, 32, 64, 60)
			f, err := sdfiles.OpenSingleFile(writeSingleFile(t, c.dtype, c.v2, vw, cw, uw, g))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			src, cfgJSON, err := f.UNet()
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := unet.ParseConfig(cfgJSON)
			if err != nil {
				t.Fatalf("inferred config: %v\n%s", err, cfgJSON)
			}
			m1, err := unet.FromSource(cfg, src)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := unet.FromSource(cfg, uw.rounded(c.dtype))
			if err != nil {
				t.Fatal(err)
			}
			ng := noise.NewGenerator(9)
			in := unet.Input{Sample: ng.Randn(2 * 4 * 8 * 8), Batch: 2, Height: 8, Width: 8,
				Timesteps: []float64{981}, Encoder: ng.Randn(2 * 5 * g.cross), Seq: 5}
			o1, err := m1.Forward(nil, in, unet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o2, err := m2.Forward(nil, in, unet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(o1.Sample, o2.Sample); e > 1e-6 {
				t.Errorf("single-file UNet differs from the diffusers-layout one by %.3g", e)
			}
		})
	}
}
