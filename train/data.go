package train

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// rows is the number of whole rows of T+1 tokens (row r is tokens
// [r·T, r·T+T]) in a stream of n tokens.
func rows(n, T int) int {
	if n < 1 {
		return 0
	}
	return (n - 1) / T
}

// checkData reports whether a stream of n tokens holds at least one row.
func checkData(what string, n, T int) error {
	if rows(n, T) < 1 {
		return fmt.Errorf("train: %s data has %d tokens, too few for one sequence of %d tokens and its targets (%d tokens)", what, n, T, T+1)
	}
	return nil
}

// batch fills inputs and targets ([B·T] each) with micro-batch j of data
// (see the package documentation for the two orders).
func batch(inputs, targets []int, data []int32, j int, o Options) {
	B, T := o.BatchSize, o.SeqLen
	var rng *rand.Rand
	if o.DataOrder == "random" {
		rng = rand.New(rand.NewPCG(o.Seed, uint64(j)))
	}
	nr := rows(len(data), T)
	for b := 0; b < B; b++ {
		var start int
		if rng != nil {
			start = rng.IntN(len(data) - T)
		} else {
			start = ((j*B + b) % nr) * T
		}
		for t := 0; t < T; t++ {
			inputs[b*T+t] = int(data[start+t])
			targets[b*T+t] = int(data[start+t+1])
		}
	}
}

// evalBatch fills inputs and targets with held-out micro-batch j: rows
// j·B … j·B+B-1 of data in order (the last micro-batch of a pass over the
// whole set may hold fewer; it returns how many rows it filled).
func evalBatch(inputs, targets []int, data []int32, j int, o Options) int {
	B, T := o.BatchSize, o.SeqLen
	nr := rows(len(data), T)
	n := 0
	for b := 0; b < B && j*B+b < nr; b++ {
		start := (j*B + b) * T
		for t := 0; t < T; t++ {
			inputs[b*T+t] = int(data[start+t])
			targets[b*T+t] = int(data[start+t+1])
		}
		n++
	}
	return n
}

// HoldOut splits a token stream into its first part and its last fraction
// (rounded to whole tokens; nanoGPT holds out the last 10 %), for training
// and evaluation. fraction 0 holds out nothing.
func HoldOut(ids []int32, fraction float64) (train, eval []int32) {
	n := int(math.Round(float64(len(ids)) * fraction))
	n = max(0, min(n, len(ids)))
	if n == 0 {
		return ids, nil
	}
	return ids[:len(ids)-n], ids[len(ids)-n:]
}
