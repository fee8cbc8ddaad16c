package report

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/eval"
)

// TestRunWorkersJobProgress runs the toy suite with 3 workers: the same records as one worker, one job progress
// over every cell (done / total, computed, reused), drawn on the terminal, and the final summary in the log.
func TestRunWorkersJobProgress(t *testing.T) {
	dir := t.TempDir()
	env := toyEnv()
	one, err := Run(toySuite(16), env, Options{Dir: filepath.Join(dir, "one")})
	require.NoError(t, err)
	assert.Equal(t, 1, one.Workers)

	// A partial run first: the second run reuses its records.
	_, err = Run(toySuite(16), env, Options{Dir: filepath.Join(dir, "three"), Only: []string{"base"}})
	require.NoError(t, err)
	var log, term bytes.Buffer
	var jobs []JobProgress
	res, err := Run(toySuite(16), env, Options{Dir: filepath.Join(dir, "three"), Workers: 3, Log: &log,
		Terminal: &term, Job: func(p JobProgress) { jobs = append(jobs, p) }})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Workers)
	require.NotEmpty(t, jobs)
	last := jobs[len(jobs)-1]
	assert.Equal(t, last.Total, last.Done, "the job ends complete")
	assert.Equal(t, res.Computed, last.Computed)
	assert.Equal(t, 3*16, last.Reused, "the base row's cells")
	assert.Equal(t, 3*16, res.Reused)
	assert.Equal(t, one.Computed, res.Computed+res.Reused)
	assert.Zero(t, last.ETA, "nothing left")
	assert.Nil(t, last.Cell)
	for i := 1; i < len(jobs)-1; i++ { // The last call repeats the final state.
		assert.Equal(t, jobs[i-1].Done+1, jobs[i].Done, "one example at a time")
	}
	assert.Contains(t, term.String(), last.String())
	assert.Contains(t, last.String(), "/s elapsed")
	assert.Contains(t, log.String(), "examples computed and 48 reused from the records")

	for _, byDS := range one.Cells {
		for _, c := range byDS {
			other := res.Cells[c.Experiment.Key(env.ModelsID)][c.Dataset]
			require.NotNil(t, other)
			assert.Equal(t, strip(c.Records), strip(other.Records), c.Path)
		}
	}
	assert.True(t, strings.Contains(log.String(), "3 at once"), log.String())
}

// strip drops the records' seconds.
func strip(recs []*eval.Record) []eval.Record {
	out := make([]eval.Record, len(recs))
	for i, r := range recs {
		out[i] = *r
		out[i].Seconds = 0
		out[i].EntropyBefore, out[i].EntropyAfter = 0, 0 // NaN for the toy adapter
	}
	return out
}

// TestRunInterrupted cancels the run's context mid-way: Run stops with eval.ErrInterrupted and a rerun resumes.
func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(toySuite(16), toyEnv(), Options{Dir: dir, Workers: 2, Context: ctx, Job: func(p JobProgress) {
		if p.Done == 20 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, eval.ErrInterrupted)
	res, err := Run(toySuite(16), toyEnv(), Options{Dir: dir, Workers: 2})
	require.NoError(t, err)
	assert.Positive(t, res.Reused)
	assert.Less(t, res.Computed, 2*3*16+2*8, "the interrupted run's records are reused")
	assert.Equal(t, 2*3*16+2*8, res.Computed+res.Reused)
}
