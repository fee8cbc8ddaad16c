package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gotta-ml/gotta/tta/backend"
)

// Exit codes of gotta (README, "Exit codes and resuming").
const (
	// exitOK: everything ran.
	exitOK = 0
	// exitError: the command could not do its job (a bad file, a backend that does not load, an internal error).
	exitError = 1
	// exitUsage: a usage error (an unknown flag, subcommand or method, a flag value out of range).
	exitUsage = 2
	// exitFailed: the command ran to the end but some examples (or report rows) failed; the failures are listed at
	// the end of stderr.
	exitFailed = 3
	// exitInterrupted: stopped by SIGINT (Ctrl-C) after writing the records of the examples that finished.
	exitInterrupted = 130
)

// maxFailuresListed caps the failures printed at the end of stderr (then "and N more").
const maxFailuresListed = 20

// usageError is a usage error (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf makes a usage error.
func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// failuresError says that a command ran to the end but some of its items failed (exit code 3).
type failuresError struct {
	// what names the items ("examples", "report rows"); total counts them, failures lists "item: cause".
	what     string
	total    int
	failures []string
	// where says where the results are (e.g. "records in results/x.jsonl"), or "".
	where string
	// headline, when set, replaces the "N of M WHAT failed (WHERE)" message.
	headline string
}

func (e *failuresError) Error() string {
	if e.headline != "" {
		return e.headline
	}
	s := fmt.Sprintf("%d of %d %s failed", len(e.failures), e.total, e.what)
	if e.where != "" {
		s += " (" + e.where + ")"
	}
	return s
}

// writeList writes the failures, one a line, capped at maxFailuresListed.
func (e *failuresError) writeList(w io.Writer) {
	for i, f := range e.failures {
		if i == maxFailuresListed {
			fmt.Fprintf(w, "  and %d more\n", len(e.failures)-maxFailuresListed)
			break
		}
		fmt.Fprintf(w, "  %s\n", f)
	}
}

// interruptedError says that a run stopped on SIGINT (exit code 130).
type interruptedError struct {
	records int
	file    string
	// what, when set, replaces the record count ("the report's records").
	what string
}

func (e *interruptedError) Error() string {
	if e.what != "" {
		return fmt.Sprintf("interrupted: %s are in %s; rerun the same command to resume", e.what, e.file)
	}
	return fmt.Sprintf("interrupted: %d records in %s; rerun the same command to resume", e.records, e.file)
}

// flagErrorPrefixes start the errors of package flag's parser (usage errors).
var flagErrorPrefixes = []string{"flag provided but not defined", "invalid value", "invalid boolean", "bad flag syntax",
	"flag needs an argument", "invalid boolean flag"}

// exitCode maps a subcommand's error to gotta's exit code.
func exitCode(err error) int {
	var ue *usageError
	var fe *failuresError
	var ie *interruptedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ie):
		return exitInterrupted
	case errors.As(err, &fe):
		return exitFailed
	case errors.As(err, &ue), errors.Is(err, backend.ErrUnknown):
		return exitUsage
	}
	msg := err.Error()
	for _, p := range flagErrorPrefixes {
		if strings.HasPrefix(msg, p) {
			return exitUsage
		}
	}
	if strings.HasPrefix(msg, "unexpected arguments") || strings.HasPrefix(msg, "unknown --method") ||
		strings.HasPrefix(msg, "--method is required") {
		return exitUsage
	}
	return exitError
}

// panicError is a panic recovered from a subcommand.
type panicError struct{ value any }

func (e *panicError) Error() string {
	s := fmt.Sprint(e.value)
	if i := strings.IndexByte(s, '\n'); i >= 0 { // One line: the cause, not the trace GoMLX appends.
		s = s[:i]
	}
	return fmt.Sprintf("internal error: %s (set GOTTA_DEBUG=1 for the stack trace)", s)
}
