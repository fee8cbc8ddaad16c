package tta

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompileAll: the jobs run at the same time (each waits for all to start), errors and panics come back joined.
func TestCompileAll(t *testing.T) {
	var started atomic.Int32
	all := make(chan struct{})
	job := func() error {
		if started.Add(1) == 3 {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the jobs did not run concurrently")
		}
	}
	d, err := CompileAll(job, job, job)
	require.NoError(t, err)
	assert.Less(t, d, 5*time.Second)

	_, err = CompileAll(func() error { return errors.New("bad graph") }, func() error { panic("boom") },
		func() error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad graph")
	assert.Contains(t, err.Error(), "boom")
}
