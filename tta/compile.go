package tta

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// CompileAll runs the compile jobs (typically graph.Exec.PreCompile or context.Exec.PreCompile calls of
// independent executables) concurrently and returns the wall time they took together and their errors joined.
// XLA compiles independent executables in parallel this way; the pure-Go backend's compiles are cheap either way.
func CompileAll(jobs ...func() error) (time.Duration, error) {
	start := time.Now()
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = recoverJob(job)
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// fmtPanic turns a recovered panic (graph building panics) into an error.
func fmtPanic(p any) error {
	if err, ok := p.(error); ok {
		return err
	}
	return fmt.Errorf("%v", p)
}

// PrecompileContext is CompileAll for context.Exec.PreCompile jobs over the variables of ctx. GoMLX v0.26's
// context.Exec.PreCompile sets the graph's side parameters even though it executes nothing, and for a graph that
// updates variables (a training step) that donates their buffers and leaves them without value. So the values of
// ctx's variables are cloned first and put back afterwards, and a job that failed after its graph was compiled (its
// side parameters met a variable another job had just emptied) runs again, sequentially, with the values restored:
// its graph is then in the executable's cache and only the side parameters are set again. An error that persists
// (a graph that does not build or compile) is returned. The time is that of the whole.
func PrecompileContext(ctx *context.Context, jobs ...func() error) (time.Duration, error) {
	start := time.Now()
	saved := map[*context.Variable]*tensors.Tensor{}
	for v := range ctx.IterVariables() {
		if !v.HasValue() {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return 0, err
		}
		c, err := val.Clone()
		if err != nil {
			return 0, fmt.Errorf("precompile: cloning variable %q: %w", v.ScopeAndName(), err)
		}
		saved[v] = c
	}
	defer func() {
		for _, c := range saved {
			c.FinalizeAll()
		}
	}()
	restore := func() error {
		for v, c := range saved {
			if v.HasValue() {
				continue
			}
			val, err := c.Clone()
			if err != nil {
				return fmt.Errorf("precompile: restoring variable %q: %w", v.ScopeAndName(), err)
			}
			if err := v.SetValue(val); err != nil {
				return fmt.Errorf("precompile: restoring variable %q: %w", v.ScopeAndName(), err)
			}
		}
		return nil
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = recoverJob(job)
		}()
	}
	wg.Wait()
	if err := restore(); err != nil {
		return time.Since(start), err
	}
	var failed []error
	for i, job := range jobs {
		if errs[i] == nil {
			continue
		}
		err := recoverJob(job)
		if rerr := restore(); rerr != nil {
			return time.Since(start), rerr
		}
		if err != nil {
			failed = append(failed, err)
		}
	}
	return time.Since(start), errors.Join(failed...)
}

// recoverJob runs job, turning a panic into an error.
func recoverJob(job func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmtPanic(p)
		}
	}()
	return job()
}
