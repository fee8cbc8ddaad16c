//go:build !(((linux && amd64) || darwin) && !noxla)

package backend

// disableAutoInstall is a no-op when the XLA backend is not compiled in.
func disableAutoInstall() {}
