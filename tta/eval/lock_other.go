//go:build !unix

package eval

// lockFile does nothing where flock is not available.
func lockFile(path string) (unlock func(), err error) { return func() {}, nil }
