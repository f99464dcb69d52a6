package gpt2

import (
	"fmt"
	"strconv"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// checkF16Range reports the first weight that F16 would round to an
// infinity (a finite value of magnitude 65520 or more), naming its tensor
// and index, for the tensors F16 converts: every block's four linear
// weights and the LM head. Tensors mapped from the checkpoint are released
// from the resident set again after the scan.
func (m *Model) checkF16Range() error {
	w := &m.Weights
	check := func(name string, t []float32, cols int) error {
		i := kernels.F16Overflow(t)
		m.releaseMapped(t)
		if i < 0 {
			return nil
		}
		return fmt.Errorf("gpt2: f16: tensor %q: value %g at [%d, %d] is beyond float16's range (±65504); use bf16 or float32 for this model", name, t[i], i/cols, i%cols)
	}
	C := m.Config.NEmbd
	for l := range w.Blocks {
		b := &w.Blocks[l]
		p := "h." + strconv.Itoa(l) + "."
		for _, t := range []struct {
			name string
			w    []float32
			cols int
		}{
			{"attn.c_attn.weight", b.AttnW, 3 * C},
			{"attn.c_proj.weight", b.AttnProjW, C},
			{"mlp.c_fc.weight", b.FCW, 4 * C},
			{"mlp.c_proj.weight", b.ProjW, C},
		} {
			if err := check(p+t.name, t.w, t.cols); err != nil {
				return err
			}
		}
	}
	head := "lm_head.weight"
	if len(w.LMHead) > 0 && len(w.WTE) > 0 && &w.LMHead[0] == &w.WTE[0] {
		head = "wte.weight" // tied
	}
	return check(head, w.LMHead, C)
}
