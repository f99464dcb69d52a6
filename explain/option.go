package explain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// Limits and defaults of Options, shared by loupe explain, loupe serve and
// Go callers.
const (
	// DefaultNMFComponents is the number of NMF factors loupe explain and
	// the HTTP API compute when not told (Ecco's run_nmf default).
	DefaultNMFComponents = 10
	// MaxNMFComponents is the most NMF factors Options accepts.
	MaxNMFComponents = 32
	// MaxIGSteps is the most integrated-gradients steps Options accepts.
	MaxIGSteps = 1000
)

// OptionError is generate's: Field is the setting's JSON name (ig_steps,
// from_layer, to_layer, nmf_components, target, methods, interventions),
// Pkg is "explain". A surface maps Field to its own name with errors.As.
type OptionError = generate.OptionError

func optionError(field, value, allowed string) error {
	return &OptionError{Pkg: "explain", Field: field, Value: value, Allowed: allowed}
}

// ParseTarget reads a target name: "prob" (or "probability", or empty) for
// TargetProb, "logit" for TargetLogit.
func ParseTarget(s string) (Target, error) {
	switch s {
	case "", "prob", "probability":
		return TargetProb, nil
	case "logit":
		return TargetLogit, nil
	}
	return 0, optionError("target", strconv.Quote(s), "prob or logit")
}

// ParseMethods splits a comma-separated method list and checks each name.
// "ig" and "saliency" are accepted as Ecco's aliases. An empty list is nil:
// the default, grad_x_input.
func ParseMethods(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case "":
			continue
		case "ig":
			m = MethodIntegrated
		case "saliency":
			m = MethodGradient
		case MethodGradient, MethodGradXInput, MethodIntegrated:
		default:
			return nil, optionError("methods", strconv.Quote(m), "some of "+strings.Join(Methods, ", "))
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// check validates the attribution settings.
func (o *AttributionOptions) check() error {
	for _, m := range o.Methods {
		if !slices.Contains(Methods, m) {
			return optionError("methods", strconv.Quote(m), "some of "+strings.Join(Methods, ", "))
		}
	}
	if o.Target != TargetProb && o.Target != TargetLogit {
		return optionError("target", strconv.Itoa(int(o.Target)), "TargetProb or TargetLogit")
	}
	if o.IGSteps < 0 || o.IGSteps > MaxIGSteps {
		return optionError("ig_steps", strconv.Itoa(o.IGSteps), fmt.Sprintf("0 (the default, %d) up to %d", defaultIGSteps, MaxIGSteps))
	}
	return nil
}

// Check validates o for a model of configuration cfg and returns the first
// setting out of range as an *OptionError: methods, target, ig_steps,
// nmf_components (0..MaxNMFComponents), from_layer and to_layer (layers
// of the model, from_layer <= to_layer; to_layer -1 is the last; checked
// when NMF runs), interventions (layers, neurons and positions of the
// model). Explain and Explainer.Explain call it before any work.
func (o *Options) Check(cfg gpt2.Config) error {
	a := AttributionOptions{Methods: o.Methods, Target: o.Target, IGSteps: o.IGSteps}
	if err := a.check(); err != nil {
		return err
	}
	if o.NMFComponents < 0 || o.NMFComponents > MaxNMFComponents {
		return optionError("nmf_components", strconv.Itoa(o.NMFComponents), fmt.Sprintf("0 (off) up to %d", MaxNMFComponents))
	}
	if L := cfg.NLayer; o.NMFComponents > 0 {
		if o.FromLayer < 0 || o.FromLayer >= L {
			return optionError("from_layer", strconv.Itoa(o.FromLayer), fmt.Sprintf("a layer in 0..%d", L-1))
		}
		if o.ToLayer != -1 && (o.ToLayer < o.FromLayer || o.ToLayer >= L) {
			return optionError("to_layer", strconv.Itoa(o.ToLayer), fmt.Sprintf("a layer in %d..%d, or -1 for the last", o.FromLayer, L-1))
		}
	}
	if err := cfg.CheckInterventions(o.Interventions); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	for _, w := range o.Watch {
		if w < 0 || w >= cfg.VocabSize {
			return fmt.Errorf("explain: watched token id %d outside the vocabulary", w)
		}
	}
	return nil
}

// ParseIntervention reads an intervention written LAYER:NEURON=SCALE or
// LAYER:NEURON@POS,POS...=SCALE (loupe explain --intervene): scale MLP
// neuron NEURON of layer LAYER (from 0) by SCALE at the given positions,
// or at every position. Whether the layer and neuron exist is for
// Options.Check to say.
func ParseIntervention(s string) (Intervention, error) {
	var iv Intervention
	bad := func(why string) (Intervention, error) {
		return Intervention{}, fmt.Errorf("explain: intervention %q: %s (want LAYER:NEURON[@POS,...]=SCALE, e.g. 5:1234=0)", s, why)
	}
	lhs, scale, ok := strings.Cut(s, "=")
	if !ok {
		return bad("no =SCALE")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(scale), 32)
	if err != nil {
		return bad("scale is not a number")
	}
	iv.Scale = float32(v)
	lhs, pos, hasPos := strings.Cut(lhs, "@")
	ls, ns, ok := strings.Cut(lhs, ":")
	if !ok {
		return bad("no LAYER:NEURON")
	}
	if iv.Layer, err = strconv.Atoi(strings.TrimSpace(ls)); err != nil {
		return bad("layer is not an integer")
	}
	if iv.Neuron, err = strconv.Atoi(strings.TrimSpace(ns)); err != nil {
		return bad("neuron is not an integer")
	}
	if hasPos {
		iv.Positions = []int{}
		for _, p := range strings.Split(pos, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 0 {
				return bad("position " + strconv.Quote(p) + " is not a non-negative integer")
			}
			iv.Positions = append(iv.Positions, n)
		}
	}
	return iv, nil
}

// ParseOptions returns opt with the settings loupe explain takes as text
// set: methods (ParseMethods), target (ParseTarget), the tokens to watch
// (WatchIDs; none leaves opt.Watch) and interventions (ParseIntervention,
// appended). Explain checks the result.
func (e *Explainer) ParseOptions(opt Options, methods, target string, watch, interventions []string) (Options, error) {
	var err error
	if opt.Methods, err = ParseMethods(methods); err != nil {
		return opt, err
	}
	if opt.Target, err = ParseTarget(target); err != nil {
		return opt, err
	}
	if len(watch) > 0 {
		if opt.Watch, err = e.WatchIDs(watch); err != nil {
			return opt, err
		}
	}
	for _, s := range interventions {
		iv, err := ParseIntervention(s)
		if err != nil {
			return opt, err
		}
		opt.Interventions = append(opt.Interventions, iv)
	}
	return opt, nil
}
