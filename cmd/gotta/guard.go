package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta/eval"
)

// checkOutFile refuses an output file path that exists and is not a regular file (a device, folder, FIFO).
func checkOutFile(flagName, path string) error {
	st, err := os.Stat(path)
	if err != nil || st.Mode().IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch m := st.Mode(); {
	case m.IsDir():
		kind = "a folder"
	case m&os.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&os.ModeDevice != 0:
		kind = "a device"
	}
	return usageErrorf("%s %s is %s: want a regular file or a new path", flagName, path, kind)
}

// checkOutDir refuses an output folder path that exists and is not a folder.
func checkOutDir(flagName, path string) error {
	st, err := os.Stat(path)
	if err != nil || st.IsDir() {
		return nil
	}
	return usageErrorf("%s %s exists and is not a folder", flagName, path)
}

// warnFolderClasses writes to w the class folders of a folder dataset that hold no image (they are kept: their
// classes stay in the classifier, with no example) and the sub-folders its layout does not read (extra).
func warnFolderClasses(w io.Writer, ds datasets.Dataset) {
	f, ok := ds.(interface {
		Root() string
		ClassFolders() []string
		Counts() []int
	})
	if !ok {
		return
	}
	folders, counts := f.ClassFolders(), f.Counts()
	var empty []string
	for i, c := range counts {
		if c == 0 {
			empty = append(empty, folders[i])
		}
	}
	if len(empty) > 0 {
		fmt.Fprintf(w, "warning: %d class folder(s) of %s hold no image (kept as classes with no example): %s\n",
			len(empty), f.Root(), capList(empty, 10))
	}
	present, err := datasets.ClassFolders(f.Root())
	if err != nil {
		return
	}
	var extra []string
	for _, p := range present {
		if !slices.Contains(folders, p) {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		fmt.Fprintf(w, "warning: %d folder(s) of %s are not classes of %s and are not read: %s\n", len(extra),
			f.Root(), ds.Name(), capList(extra, 10))
	}
}

// capList joins up to n items, then says how many more there are.
func capList(items []string, n int) string {
	s := ""
	for i, it := range items {
		if i == n {
			return s + fmt.Sprintf(" and %d more", len(items)-n)
		}
		if i > 0 {
			s += ", "
		}
		s += it
	}
	return s
}

// interruptContext is cancelled by the first SIGINT or SIGTERM (what Kubernetes sends a pod it stops); a second
// one kills the process as usual.
func interruptContext() (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // The next SIGINT is not caught.
	}()
	return ctx, stop
}

// runOutcome turns eval.Run's result into gotta's error: interrupted (130), some examples failed (3), or err.
func runOutcome(recs []*eval.Record, err error, out string) error {
	if errors.Is(err, eval.ErrInterrupted) {
		return &interruptedError{records: len(recs), file: out}
	}
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range recs {
		if r.Error != "" {
			failed = append(failed, r.Error)
		}
	}
	if len(failed) > 0 {
		return &failuresError{what: "examples", total: len(recs), failures: failed,
			where: fmt.Sprintf("records in %s; a rerun retries them", out)}
	}
	return nil
}
