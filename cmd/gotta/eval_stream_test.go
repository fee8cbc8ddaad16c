package main

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

// toyOnlineBuilds counts the builds of the toy-online method.
var toyOnlineBuilds atomic.Int32

// toyOnlineClasses are the classes of its last build.
var toyOnlineClasses []string

func init() {
	method.Register(&method.Spec{Name: "toy-online", Summary: "a test method whose state carries between examples",
		Online: true, Build: func(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
			toyOnlineBuilds.Add(1)
			toyOnlineClasses = classes
			return &toyOnline{classes: len(classes)}, toyViews{}, nil
		}})
}

// toyOnline predicts class (examples seen so far) mod classes: its prediction depends on the stream.
type toyOnline struct{ classes, seen int }

func (a *toyOnline) Name() string           { return "toy-online" }
func (a *toyOnline) Config() map[string]any { return map[string]any{} }
func (a *toyOnline) Reset() error           { return nil }
func (a *toyOnline) ResetStream() error     { a.seen = 0; return nil }
func (a *toyOnline) Adapt(v *tta.Views) (*tta.Prediction, error) {
	logits := make([]float32, a.classes)
	logits[a.seen%a.classes] = 5
	a.seen++
	return &tta.Prediction{Logits: logits}, nil
}

type toyViews struct{}

func (toyViews) MakeViews(img image.Image, id string, seed int64) (*tta.Views, error) {
	return &tta.Views{ExampleID: id, Seed: seed}, nil
}

// TestEvalOnline: an online method's --shard is refused before models or data are loaded, the stream flags are
// refused for episodic methods, and gotta eval streams a folder in index order (or shuffled) with the folder names
// as classes, and several folders as one stream with --continual.
func TestEvalOnline(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := evalMain([]string{"--method", "toy-online", "--shard", "0/2", "--data", "folder=/no/such/folder",
		"--model", "clip:RN50=/no/such.safetensors"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Equal(t, "method toy-online is online (its state carries between examples): --shard is refused; run it "+
		"unsharded", err.Error())
	assert.Equal(t, exitUsage, exitCode(err))
	assert.Equal(t, int32(0), toyOnlineBuilds.Load(), "refused before anything is built")
	err = evalMain([]string{"--method", "tpt", "--order", "shuffle"}, &stdout, &stderr)
	require.ErrorContains(t, err, "--order is for online methods")
	err = evalMain([]string{"--method", "toy-online", "--data", "mnist", "--data", "mnist-c"}, &stdout, &stderr)
	require.ErrorContains(t, err, "only with --continual")

	classes := []string{"goldfish", "tiger_shark", "electric_ray"}
	data := tinyImageFolder(t, classes, 2)
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		stderr.Reset()
		require.NoError(t, evalMain(append([]string{"--method", "toy-online", "--quiet"}, args...), &stdout, &stderr),
			stderr.String())
	}
	out := filepath.Join(dir, "index.jsonl")
	run("--data", "folder="+data, "--out", out, "--workers", "3")
	assert.Equal(t, []string{"electric ray", "goldfish", "tiger shark"}, toyOnlineClasses,
		"the classes are the folder names")
	recs := readRecs(t, out)
	require.Len(t, recs, 6)
	for i, r := range recs {
		require.NotNil(t, r.StreamPos)
		assert.Equal(t, i, *r.StreamPos, "index order")
		assert.Equal(t, i%3, r.Prediction)
		assert.Equal(t, "index", r.Stream.Order)
	}
	out = filepath.Join(dir, "shuffle.jsonl")
	run("--data", "folder="+data, "--out", out, "--order", "shuffle", "--order-seed", "3")
	var pos, indices []int
	for _, r := range readRecs(t, out) { // Written in stream order.
		pos, indices = append(pos, *r.StreamPos), append(indices, r.Index)
		assert.Equal(t, *r.StreamPos%3, r.Prediction, "the prediction follows the stream position")
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, pos)
	assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5}, indices)
	assert.NotEqual(t, []int{0, 1, 2, 3, 4, 5}, indices, "shuffled")

	other := tinyImageFolder(t, classes, 1)
	cont := filepath.Join(dir, "continual")
	run("--continual", "--data", "folder="+data+",folder="+other, "--out", cont)
	entries, err := os.ReadDir(cont)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Contains(t, names, "0_tiny.jsonl", fmt.Sprint(names))
	second := readRecs(t, filepath.Join(cont, "1_tiny.jsonl"))
	require.Len(t, second, 3)
	for i, r := range second {
		assert.Equal(t, 6+i, *r.StreamPos, "positions count from the stream's start")
		assert.Equal(t, (6+i)%3, r.Prediction, "the state is not emptied between the datasets")
		require.Len(t, r.Stream.Before, 1)
	}
}
