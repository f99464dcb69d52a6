package index

import (
	"errors"
	"testing"
)

// testOptions fills the zero fields of o (but Dim) from DefaultOptions, so
// that a test names only what it is about.
func testOptions(o Options) Options {
	d := DefaultOptions()
	if o.Kind == "" {
		o.Kind = d.Kind
	}
	if o.Metric == "" {
		o.Metric = d.Metric
	}
	for _, f := range []struct {
		v *int
		d int
	}{{&o.M, d.M}, {&o.EfConstruction, d.EfConstruction}, {&o.Ef, d.Ef}, {&o.NTrees, d.NTrees}, {&o.LeafSize, d.LeafSize}} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	return o
}

func TestOptionsMeanWhatTheySay(t *testing.T) {
	ok := DefaultOptions()
	ok.Dim = 4
	if _, err := New(ok); err != nil {
		t.Fatalf("DefaultOptions: %v", err)
	}
	for _, tc := range []struct {
		field string
		set   func(*Options)
	}{
		{"Dim", func(o *Options) { o.Dim = 0 }},
		{"M", func(o *Options) { o.M = 0 }},
		{"M", func(o *Options) { o.M = 1 }},
		{"M", func(o *Options) { o.M = 4096 }},
		{"EfConstruction", func(o *Options) { o.EfConstruction = 0 }},
		{"Ef", func(o *Options) { o.Ef = -1 }},
		{"NTrees", func(o *Options) { o.NTrees = 0 }},
		{"NTrees", func(o *Options) { o.NTrees = 10001 }},
		{"LeafSize", func(o *Options) { o.LeafSize = 0 }},
		{"Threads", func(o *Options) { o.Threads = -1 }},
		{"Kind", func(o *Options) { o.Kind = "" }},
		{"Metric", func(o *Options) { o.Metric = "hamming" }},
	} {
		o := ok
		tc.set(&o)
		_, err := New(o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != tc.field {
			t.Errorf("%s: err = %v, want an *OptionError for %s", tc.field, err, tc.field)
		}
	}
	// The hnswlib spellings are accepted and normalised.
	o := ok
	o.Metric = "ip"
	if x, err := New(o); err != nil || x.Metric() != Dot {
		t.Errorf(`Metric "ip": %v, %v`, x, err)
	}
}

func TestValidateAllowsDimZero(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Errorf("DefaultOptions().Validate() = %v", err)
	}
	o.LeafSize = 0
	var oe *OptionError
	if err := o.Validate(); !errors.As(err, &oe) || oe.Field != "LeafSize" {
		t.Errorf("LeafSize 0: %v", err)
	}
}
