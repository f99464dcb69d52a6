package word2vec

// prefetchRow asks the CPU to load the n floats at p into its caches ahead
// of use (PREFETCHT0 per cache line). Training uses it for the noise words'
// rows, which are scattered over the output matrix.
//
//go:noescape
func prefetchRow(p *float32, n int)
