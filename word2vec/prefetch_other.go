//go:build !amd64

package word2vec

// prefetchRow is a no-op where no prefetch instruction is wired up.
func prefetchRow(p *float32, n int) {}
