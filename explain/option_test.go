package explain

import (
	"errors"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestOptionsCheck: each setting out of range is an *OptionError naming
// the setting by its JSON name.
func TestOptionsCheck(t *testing.T) {
	cfg := gpt2.Config{NLayer: 2, NEmbd: 4, NHead: 1, VocabSize: 10, NPositions: 8}
	for _, c := range []struct {
		opt   Options
		field string
	}{
		{Options{ToLayer: -1}, ""},
		{Options{NMFComponents: MaxNMFComponents, ToLayer: 1}, ""},
		{Options{Methods: []string{"nope"}}, "methods"},
		{Options{Target: 7}, "target"},
		{Options{IGSteps: -1}, "ig_steps"},
		{Options{IGSteps: MaxIGSteps + 1}, "ig_steps"},
		{Options{NMFComponents: -1}, "nmf_components"},
		{Options{NMFComponents: MaxNMFComponents + 1}, "nmf_components"},
		{Options{NMFComponents: 2, FromLayer: 2, ToLayer: -1}, "from_layer"},
		{Options{NMFComponents: 2, FromLayer: 1, ToLayer: 0}, "to_layer"},
		{Options{NMFComponents: 0, FromLayer: 5, ToLayer: 9}, ""}, // layers matter only with NMF
	} {
		err := c.opt.Check(cfg)
		var oe *OptionError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.opt, err)
		case c.field != "" && (!errors.As(err, &oe) || oe.Field != c.field || oe.Pkg != "explain"):
			t.Errorf("%+v: %v, want an OptionError for %s", c.opt, err, c.field)
		}
	}
	if _, err := ParseTarget("logits"); err == nil {
		t.Error(`ParseTarget("logits") accepted`)
	}
	if m, err := ParseMethods(" ig, saliency,ig"); err != nil || len(m) != 2 || m[0] != MethodIntegrated || m[1] != MethodGradient {
		t.Errorf("ParseMethods: %v %v", m, err)
	}
}

func TestParseIntervention(t *testing.T) {
	ok := []struct {
		in            string
		layer, neuron int
		pos           []int
		scale         float32
	}{
		{"5:1234=0", 5, 1234, nil, 0},
		{"0:7@3,4=2.5", 0, 7, []int{3, 4}, 2.5},
		{" 1 : 2 @ 0 = -1", 1, 2, []int{0}, -1},
	}
	for _, c := range ok {
		iv, err := ParseIntervention(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if iv.Layer != c.layer || iv.Neuron != c.neuron || iv.Scale != c.scale || len(iv.Positions) != len(c.pos) {
			t.Fatalf("%q: got %+v", c.in, iv)
		}
		for i := range c.pos {
			if iv.Positions[i] != c.pos[i] {
				t.Fatalf("%q: positions %v", c.in, iv.Positions)
			}
		}
	}
	for _, bad := range []string{"", "5:3", "5=0", "a:3=0", "5:b=0", "5:3=x", "5:3@=1", "5:3@-1=1", "5:3@1,,2=1"} {
		if _, err := ParseIntervention(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseIntervention(f *testing.F) {
	for _, s := range []string{"5:1234=0", "0:7@3,4=2.5", "1:2@0=-1", "=", "@:", "9999999999999999999:1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := ParseIntervention(s)
		if err != nil {
			return
		}
		for _, p := range iv.Positions {
			if p < 0 {
				t.Fatalf("%q: negative position %d accepted", s, p)
			}
		}
	})
}

func TestParseOptions(t *testing.T) {
	e := LoadTestExplainer(t)
	base := Options{IGSteps: 7}
	opt, err := e.ParseOptions(base, "gradient,"+MethodGradXInput, "logit", nil, []string{"0:1=0", "1:2@0,1=2"})
	if err != nil {
		t.Fatal(err)
	}
	if opt.IGSteps != 7 || len(opt.Methods) != 2 || opt.Target != TargetLogit || len(opt.Interventions) != 2 || opt.Watch != nil {
		t.Errorf("ParseOptions = %+v", opt)
	}
	if iv := opt.Interventions[1]; iv.Layer != 1 || iv.Neuron != 2 || iv.Scale != 2 || len(iv.Positions) != 2 {
		t.Errorf("intervention = %+v", iv)
	}
	for _, c := range [][2]string{{"nope", "prob"}, {MethodGradXInput, "nope"}} {
		if _, err := e.ParseOptions(base, c[0], c[1], nil, nil); err == nil {
			t.Errorf("ParseOptions(%q, %q): no error", c[0], c[1])
		}
	}
	if _, err := e.ParseOptions(base, MethodGradXInput, "prob", nil, []string{"x"}); err == nil {
		t.Error("bad intervention: no error")
	}
}
