// Package method is GoTTA's registry of test-time-adaptation methods and the one model environment they are built
// on, after the standard library's registration pattern (image.RegisterFormat, database/sql.Register).
//
// Each method package (tta/tpt, tta/memo, tta/zeroshot, tta/ensemble, ...) registers one Spec from an init function
// in its spec.go: its name, paper, parameters with their paper defaults and valid ranges (stated once, in the
// Params), named presets, the models it needs and a builder. The command line's flags and help (AddFlags), the
// report's rows (a method name, a preset and overrides) and the notebooks' helpers are all derived from the specs,
// so adding a method is one package plus the rows that use it. A program that builds methods by name imports
// tta/method/all (or the method packages it wants) for their registrations:
//
//	import _ "github.com/gotta-ml/gotta/tta/method/all"
//
//	env := method.EmbeddedEnv(backend.MustNew())
//	a, vm, values, err := method.Build(env, "memo", "seed-memo-topk", method.Values{"views": 16}, ds.Classes())
//	recs, err := eval.Run(ds, a, vm, eval.Options{Out: "memo.jsonl"})
//
// Env loads the models once, on first use, and is safe for concurrent use: the CLIP (a safetensors file with its
// BPE vocabulary, or the embedded MNIST CLIP with its word tokenizer and prompt) and the ResNets (torchvision files,
// or the embedded MNIST ResNet), with their preprocessing and the mapping of a dataset's classes to the model's
// outputs. A model this build or machine lacks gives an error wrapping ErrNotAvailable.
//
// This package imports the models (tta/clip, tta/resnet, tta/embedded), never a method package; methods never
// import each other (tta/ensemble builds its members through Lookup).
package method
