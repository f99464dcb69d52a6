package explain

// Pieces of Attribute that other tasks' attributions share (package
// seq2seq explains encoder-decoders with the same targets, reductions and
// checks).

// TargetGradient returns the explained value of token in the logits z (its
// softmax probability with TargetProb, its logit with TargetLogit) and
// writes to d (len(z)) the gradient of weight·value with respect to z.
// With TargetProb, z is overwritten by its softmax.
func TargetGradient(d, z []float32, token int, tgt Target, weight float32) float64 {
	clear(d)
	if tgt == TargetLogit {
		d[token] = weight
		return float64(z[token])
	}
	softmax(z)
	pt := z[token]
	for j, pj := range z {
		d[j] = -weight * pt * pj
	}
	d[token] += weight * pt
	return float64(pt)
}

// NormalisedNorms returns the L2 norm of each c-wide row of g (or of g⊙x
// when x is not nil) divided by their sum, as Attribute (and Ecco)
// reduces a gradient to one score per token.
func NormalisedNorms(g, x []float32, c int) []float64 { return normalisedNorms(g, x, c) }

// Check validates the attribution settings (methods, target, ig_steps),
// returning an *OptionError for the first one out of range.
func (o AttributionOptions) Check() error { return o.check() }
