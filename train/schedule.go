package train

import "math"

// LearningRate is the learning rate of step s (counted from 0): a linear
// warm-up to o.LR over o.Warmup steps, then o.LR ("constant") or a cosine
// decay from o.LR at step Warmup to o.MinLR at step Steps-1 ("cosine").
func (o Options) LearningRate(s int) float64 {
	if s < o.Warmup {
		return o.LR * float64(s+1) / float64(o.Warmup)
	}
	if o.Schedule == "constant" {
		return o.LR
	}
	span := o.Steps - 1 - o.Warmup
	if span <= 0 {
		return o.LR
	}
	r := math.Min(1, float64(s-o.Warmup)/float64(span))
	return o.MinLR + 0.5*(1+math.Cos(math.Pi*r))*(o.LR-o.MinLR)
}
