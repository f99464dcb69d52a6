package gpt2

import "fmt"

// Intervention scales one MLP neuron's activation (after GELU, the input of
// mlp.c_proj: the "mlp_act" hook point) at chosen positions: Scale 0
// inhibits the neuron, Scale > 1 induces it. Positions nil means every
// position. The KV-cache forward applies interventions through
// InterventionHook; the differentiable pass (ForwardPass) applies them
// itself, and its backward pass scales their gradients to match.
type Intervention struct {
	Layer     int     `json:"layer"`
	Neuron    int     `json:"neuron"`
	Positions []int   `json:"positions,omitempty"`
	Scale     float32 `json:"scale"`
}

// CheckInterventions reports an intervention outside the model: a layer
// or neuron out of range, or a negative position. The error names the
// intervention and has no package prefix, so that each caller adds its own.
func (c Config) CheckInterventions(ivs []Intervention) error {
	L, C4 := c.NLayer, 4*c.NEmbd
	for _, iv := range ivs {
		if iv.Layer < 0 || iv.Layer >= L || iv.Neuron < 0 || iv.Neuron >= C4 {
			return fmt.Errorf("intervention on layer %d neuron %d outside %d layers × %d neurons", iv.Layer, iv.Neuron, L, C4)
		}
		for _, p := range iv.Positions {
			if p < 0 {
				return fmt.Errorf("intervention on layer %d neuron %d: position %d is negative", iv.Layer, iv.Neuron, p)
			}
		}
	}
	return nil
}

// at reports whether iv applies at position t.
func (iv *Intervention) at(t int) bool {
	if iv.Positions == nil {
		return true
	}
	for _, p := range iv.Positions {
		if p == t {
			return true
		}
	}
	return false
}

// scaleRows multiplies the intervened neurons of layer l in d, a [T, 4C]
// buffer of one sequence whose row i is position pos0+i, by their scales:
// the forward's a' = scale·a, and the backward's da = scale·da' alike.
func scaleRows(d []float32, ivs []Intervention, l, pos0, T, C4 int) {
	for k := range ivs {
		iv := &ivs[k]
		if iv.Layer != l || iv.Neuron >= C4 {
			continue
		}
		for i := 0; i < T; i++ {
			if iv.at(pos0 + i) {
				d[i*C4+iv.Neuron] *= iv.Scale
			}
		}
	}
}

// InterventionHook returns a Hook that applies ivs at the "mlp_act" hook
// point of the KV-cache forward (State.Forward, Model.Forward), or nil for
// none. Positions count from the start of each sequence.
func InterventionHook(ivs []Intervention) Hook {
	if len(ivs) == 0 {
		return nil
	}
	return func(a *Activation) {
		if a.Name != "mlp_act" {
			return
		}
		scaleRows(a.Data, ivs, a.Layer, a.Pos, a.Shape[0], a.Shape[1])
	}
}
