package unet

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// tileScores bounds the scores one attention task holds: it takes
// tileScores/keys query rows at a time (at least 16) and computes
// softmax(Q_tile·Kᵀ)·V over all keys, so that a 64×64 latent (4096 keys)
// holds 256×4096 scores (4 MB) per thread instead of the whole 4096×4096
// matrix per head. Larger tiles amortise the packing of K and V that each
// matrix product repeats (64-row tiles cost 17 % more CPU time at 4096
// keys).
var tileScores = 1 << 20

// tileFor returns the query rows per task for n queries and keys keys.
func tileFor(n, keys int) int {
	return min(n, max(16, tileScores/keys))
}

// scores returns a thread's score tile of at least n values; put gives it back.
func (ws *workspace) scores(n int) []float32 {
	s := <-ws.tiles
	if cap(s) < n {
		s = make([]float32, n)
	}
	return s[:n]
}

func (ws *workspace) put(s []float32) { ws.tiles <- s }

// selfAttention computes ctx = softmax(Q·Kᵀ/√d)·V per batch item and head
// from qkv [B·N, 3C] (q, k, v column blocks; head h uses columns h·d..)
// into ctx [B·N, C], in tiles of query rows split across threads.
func (r *run) selfAttention(ctx, qkv []float32, N, C, heads int) {
	B, d := r.B, C/heads
	ld := 3 * C
	scale := float32(1 / math.Sqrt(float64(d)))
	tileRows := tileFor(N, N)
	nt := (N + tileRows - 1) / tileRows
	kernels.Parallel(B*heads*nt, 1, func(lo, hi int) {
		s := r.ws.scores(tileRows * N)
		defer r.ws.put(s)
		for task := lo; task < hi; task++ {
			b, h, t := task/(heads*nt), task/nt%heads, task%nt
			q0 := t * tileRows
			rows := min(tileRows, N-q0)
			base := b * N * ld
			kernels.SgemmSerial(false, true, rows, N, d, scale, qkv[base+q0*ld+h*d:], ld, qkv[base+C+h*d:], ld, 0, s, N)
			for i := range rows {
				kernels.Softmax(s[i*N : (i+1)*N])
			}
			kernels.SgemmSerial(false, false, rows, d, N, 1, s, N, qkv[base+2*C+h*d:], ld, 0, ctx[(b*N+q0)*C+h*d:], C)
		}
	})
}

// crossAttention computes ctx = softmax(Q·Kᵀ/√d)·V with q [B·N, C] from
// the image and kv [B·S, 2C] (keys, then values) from the text. With probs
// ([B·N, S], zeroed) it adds each head's probabilities divided by the
// number of heads: their mean over heads. Tasks own query rows, so heads
// run in turn inside a task.
func (r *run) crossAttention(ctx, q, kv []float32, N, C, heads int, probs []float32) {
	B, S, d := r.B, r.S, C/heads
	scale := float32(1 / math.Sqrt(float64(d)))
	inv := 1 / float32(heads)
	tileRows := tileFor(N, S)
	if N > 64 {
		tileRows = min(tileRows, (N+1)/2) // at least two tasks per image
	}
	nt := (N + tileRows - 1) / tileRows
	kernels.Parallel(B*nt, 1, func(lo, hi int) {
		s := r.ws.scores(tileRows * S)
		defer r.ws.put(s)
		for task := lo; task < hi; task++ {
			b, t := task/nt, task%nt
			q0 := t * tileRows
			rows := min(tileRows, N-q0)
			kvb := kv[b*S*2*C:]
			for h := range heads {
				kernels.SgemmSerial(false, true, rows, S, d, scale, q[(b*N+q0)*C+h*d:], C, kvb[h*d:], 2*C, 0, s, S)
				for i := range rows {
					kernels.Softmax(s[i*S : (i+1)*S])
				}
				kernels.SgemmSerial(false, false, rows, d, S, 1, s, S, kvb[C+h*d:], 2*C, 0, ctx[(b*N+q0)*C+h*d:], C)
				if probs != nil {
					p := probs[(b*N+q0)*S : (b*N+q0+rows)*S]
					for i, v := range s[:rows*S] {
						p[i] += v * inv
					}
				}
			}
		}
	})
}
