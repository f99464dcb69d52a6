package kernels

import "testing"

// BenchmarkMicro times the micro kernel alone on cache-resident panels: the
// ceiling for Sgemm on one thread.
func BenchmarkMicro(b *testing.B) {
	for _, l := range availableLevels() {
		mr, nr := gemmShape(l)
		const k = 256
		a := make([]float32, mr*k)
		bb := make([]float32, nr*k)
		c := make([]float32, mr*nr)
		b.Run(levelNames[l], func(b *testing.B) {
			for b.Loop() {
				micro(l, k, a, bb, c, nr, 1, 0)
			}
			b.ReportMetric(2*float64(mr*nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
