package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/storage"
	"github.com/gotta-ml/gotta/tta"
)

// Environment variables of --shard auto: the Job controller of Kubernetes sets EnvJobIndex in each pod of an
// Indexed Job; EnvJobCompletions is set by the Job's manifest to the same number as its completions.
const (
	EnvJobIndex       = "JOB_COMPLETION_INDEX"
	EnvJobCompletions = "JOB_COMPLETIONS"
)

// storageCacheDir is where objects read from buckets are copied: $GOTTA_HOME/cache/storage.
func storageCacheDir() string { return filepath.Join(tta.Home(), "cache", "storage") }

// autoShard returns the shard of --shard auto: EnvJobIndex of EnvJobCompletions.
func autoShard() (int, int, error) {
	is, ns := os.Getenv(EnvJobIndex), os.Getenv(EnvJobCompletions)
	if is == "" || ns == "" {
		return 0, 0, fmt.Errorf("--shard auto needs $%s and $%s (a Kubernetes Indexed Job sets the first, its "+
			"manifest the second); got %q and %q", EnvJobIndex, EnvJobCompletions, is, ns)
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard auto: $%s=%q and $%s=%q: want 0 <= index < completions", EnvJobIndex, is,
			EnvJobCompletions, ns)
	}
	return i, n, nil
}

// openBucketDataset opens the class-folder tree at a storage URL: id "folder" (classes named after their folders,
// "_" as spaces) or an ImageNet set's id; cache keeps local copies of the images under storageCacheDir().
func openBucketDataset(id, rawURL string, cache bool) (datasets.Dataset, error) {
	opts := storage.Options{}
	if cache {
		opts.Cache = storageCacheDir()
	}
	fsys, err := storage.OpenFS(context.Background(), rawURL, opts)
	if err != nil {
		return nil, err
	}
	if id != "folder" {
		return imagenet.OpenFS(imagenet.ID(id), fsys, fsys.URL())
	}
	classes, err := datasets.ClassFoldersFS(fsys, ".")
	if err != nil {
		return nil, err
	}
	return datasets.ImageFolderFS(fsys, fsys.URL(), datasets.FolderOptions{Classes: classes,
		ClassNames: folderClassNames(classes)})
}

// localFile returns p, or, for a storage URL, the path of its copy in the cache (fetched when missing or
// changed).
func localFile(flagName, p string) (string, error) {
	if !storage.IsURL(p) {
		return p, nil
	}
	local, err := storage.Fetch(context.Background(), p, storageCacheDir(), storage.Retry{})
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return local, nil
}

// resumeFromUpload copies the records uploaded by an earlier try of the run (the object --upload names) to out
// when out does not exist yet, so that a run restarted on a fresh machine (a rescheduled pod) resumes from them.
func resumeFromUpload(w io.Writer, out, dest string) error {
	if _, err := os.Stat(out); err == nil || dest == "" {
		return nil
	}
	obj, err := storage.Into(dest, filepath.Base(out))
	if err != nil {
		return err
	}
	ctx := context.Background()
	ok, err := storage.Exists(ctx, obj)
	if err != nil || !ok {
		return err
	}
	cached, err := storage.Fetch(ctx, obj, storageCacheDir(), storage.Retry{})
	if err != nil {
		return fmt.Errorf("--upload: resuming from the uploaded records: %w", err)
	}
	data, err := os.ReadFile(cached)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "resuming from the records uploaded to %s\n", obj)
	return nil
}

// uploadRecords copies the records file out to the storage URL dest (a folder URL, ending with "/", keeps the
// file's name) and says so on w. The local file stays: an upload that fails loses nothing.
func uploadRecords(w io.Writer, out, dest string) error {
	u, err := storage.Upload(context.Background(), out, dest)
	if err != nil {
		return fmt.Errorf("--upload: %w (the records are in %s)", err, out)
	}
	fmt.Fprintf(w, "uploaded %s to %s\n", out, u)
	return nil
}

// checkUploadURL refuses an --upload value that is not a storage URL (a usage error).
func checkUploadURL(u string) error {
	if u == "" {
		return nil
	}
	if _, err := storage.Parse(u); err != nil {
		return usageErrorf("--upload %q: want a storage URL (s3://, gs://, azblob://, file://; a folder ends "+
			"with /): %v", u, err)
	}
	return nil
}
