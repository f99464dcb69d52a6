//go:build !unix

package hub

// lockFile does nothing on platforms without flock.
func lockFile(path string) (func(), error) { return func() {}, nil }
