package report

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() {
	method.Register(&method.Spec{Name: "toy-stream", Online: true,
		Build: func(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
			return &streamAdapter{}, toyViews{}, nil
		}})
}

// streamAdapter is an online toy: it predicts class (examples seen in the stream) % 3.
type streamAdapter struct{ seen int }

func (a *streamAdapter) Name() string           { return "toy-stream" }
func (a *streamAdapter) Config() map[string]any { return map[string]any{} }
func (a *streamAdapter) Reset() error           { return nil }
func (a *streamAdapter) ResetStream() error     { a.seen = 0; return nil }
func (a *streamAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	logits := []float32{0, 0, 0}
	logits[a.seen%3] = 2
	a.seen++
	return &tta.Prediction{Logits: logits}, nil
}

func streamSuite() *Suite {
	s := toySuite(10)
	s.Rows = []Experiment{s.Rows[0],
		{ID: "stream", Name: "Toy stream", Method: "toy-stream", Group: "toy"},
		{ID: "continual", Name: "Toy stream (continual)", Method: "toy-stream", Group: "toy", Continual: true},
		{ID: "episodic-continual", Name: "Toy continual", Method: "toy", Group: "toy", Continual: true}}
	s.Ablations, s.Reliability = nil, nil
	return s
}

// TestRunOnlineRows: an online row's cells are a stream per dataset, a continual row's one stream over the
// datasets; interrupted and rerun, the report ends with the records of an uninterrupted run; the episodic rows'
// records carry no stream fields, and an episodic row cannot be continual.
func TestRunOnlineRows(t *testing.T) {
	env := toyEnv()
	want, err := Run(streamSuite(), env, Options{Dir: t.TempDir(), Workers: 2})
	require.NoError(t, err)
	rows := want.Suite.Rows
	for j, ds := range []string{"clean", "fog", "zigzag"} {
		per, cont := want.Cell(rows[1], ds), want.Cell(rows[2], ds)
		require.Len(t, per.Records, 10)
		require.Len(t, cont.Records, 10)
		for i := range 10 {
			assert.Equal(t, i, *per.Records[i].StreamPos, "a stream per dataset")
			assert.Equal(t, i%3, per.Records[i].Prediction)
			assert.Equal(t, 10*j+i, *cont.Records[i].StreamPos, "one stream over the datasets")
			assert.Equal(t, (10*j+i)%3, cont.Records[i].Prediction)
		}
		assert.Len(t, cont.Records[0].Stream.Before, j)
		data, err := os.ReadFile(want.Cell(rows[0], ds).Path)
		require.NoError(t, err)
		assert.NotContains(t, string(data), "stream", "episodic records are as before")
		assert.ErrorContains(t, want.Cell(rows[3], ds).Err, "continual is for online methods")
	}
	assert.NotEqual(t, rows[1].Key(env.ModelsID), rows[2].Key(env.ModelsID), "a continual row has its own records")

	for _, k := range []int{5, 35, 45, 65, 75, 85} {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		done := 0
		_, err := Run(streamSuite(), env, Options{Dir: dir, Context: ctx, Progress: func(*Cell, eval.Progress) {
			if done++; done == k {
				cancel()
			}
		}})
		require.ErrorIs(t, err, eval.ErrInterrupted, "k %d", k)
		got, err := Run(streamSuite(), env, Options{Dir: dir})
		require.NoError(t, err)
		for _, e := range rows[:3] {
			for _, ds := range []string{"clean", "fog", "zigzag"} {
				assert.Equal(t, stripRecs(want.Cell(e, ds).Records), stripRecs(got.Cell(e, ds).Records),
					"k %d: %s on %s", k, e.ID, ds)
			}
		}
	}
}

func stripRecs(recs []*eval.Record) []eval.Record {
	out := make([]eval.Record, len(recs))
	for i, r := range recs {
		out[i] = *r
		out[i].Seconds = 0
		out[i].EntropyBefore, out[i].EntropyAfter = 0, 0
	}
	return out
}
