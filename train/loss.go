package train

import (
	"math"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// headLoss applies the LM head to the n rows of h ([n, C]) in chunks,
// returns the summed cross-entropy of targets (nats), and, when dh is not
// nil, writes the gradient of scale·(summed loss) with respect to h into dh
// and adds the head's weight gradient to dhead (both may be nil for
// evaluation). logits is scratch of at least chunk·V values.
func headLoss(h []float32, targets []int, n, C, V int, head []float32, scale float32, dh, dhead, logits []float32) float64 {
	chunk := max(1, len(logits)/V)
	var total float64
	sums := make([]float64, chunk)
	for lo := 0; lo < n; lo += chunk {
		m := min(chunk, n-lo)
		hc := h[lo*C : (lo+m)*C]
		lg := logits[:m*V]
		autograd.LinearTForward(lg, hc, head, m, C, V)
		kernels.Parallel(m, 4, func(a, b int) {
			for i := a; i < b; i++ {
				row := lg[i*V : (i+1)*V]
				mx := row[0]
				for _, x := range row {
					mx = max(mx, x)
				}
				s := kernels.SumExp(row, mx)
				t := targets[lo+i]
				sums[i] = math.Log(s) + float64(mx) - float64(row[t])
				if dh != nil {
					kernels.Softmax(row)
					row[t] -= 1
					kernels.Scale(scale, row)
				}
			}
		})
		for i := 0; i < m; i++ {
			total += sums[i]
		}
		if dh != nil {
			dc := dh[lo*C : (lo+m)*C]
			clear(dc)
			autograd.LinearTBackward(dc, dhead, lg, hc, head, m, C, V)
		}
	}
	return total
}
