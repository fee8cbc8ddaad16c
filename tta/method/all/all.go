// Package all registers every method of GoTTA with tta/method, as image/png registers its format: programs that
// build methods by name (the command line, the report's callers, the notebooks) import it for its side effects.
//
//	import _ "github.com/gotta-ml/gotta/tta/method/all"
package all

import (
	// Each method package registers its spec from an init function (its spec.go).
	_ "github.com/gotta-ml/gotta/tta/ctpt"
	_ "github.com/gotta-ml/gotta/tta/dmn"
	_ "github.com/gotta-ml/gotta/tta/ensemble"
	_ "github.com/gotta-ml/gotta/tta/memo"
	_ "github.com/gotta-ml/gotta/tta/mta"
	_ "github.com/gotta-ml/gotta/tta/tda"
	_ "github.com/gotta-ml/gotta/tta/tpt"
	_ "github.com/gotta-ml/gotta/tta/zero"
	_ "github.com/gotta-ml/gotta/tta/zeroshot"
)
