// Package storage reads GoTTA's datasets and weights from object storage and writes its records there, through
// gocloud.dev/blob: one URL syntax for Amazon S3 and S3-compatible servers (s3://BUCKET/PREFIX), Google Cloud
// Storage (gs://BUCKET/PREFIX), Azure Blob Storage (azblob://CONTAINER/PREFIX), local folders (file:///ABS/PATH)
// and process memory (mem://NAME/PREFIX, for tests).
//
// Credentials are never given on the command line: they come from the standard environment of each cloud (for S3
// the AWS_* variables, shared config files, or the instance's metadata service / the pod's web identity; for GCS
// the application default credentials; for Azure AZURE_STORAGE_ACCOUNT and a key, SAS token or the default Azure
// credential). Query parameters of the URL select the endpoint and other non-secret options, e.g.
// s3://data/imagenet-a?endpoint=http://minio:9000&use_path_style=true&region=us-east-1 for MinIO.
//
// FS reads a class-folder tree from a bucket as an io/fs file system (sorted listings, lazy reads with
// read-ahead, an optional local cache validated by ETag/MD5 and size); Fetch copies one object into the local
// cache (weights, record shards); Upload copies a local file to a bucket. Errors name the object and the cause:
// a missing bucket or object, access denied, or a read cut short (retried with backoff first).
package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// The drivers of the URL schemes.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// schemes are the URL schemes this package opens.
var schemes = []string{"s3", "gs", "azblob", "file", "mem"}

// IsURL reports whether s is an object-storage URL (SCHEME://... with one of the schemes of the package doc)
// rather than a local path.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	for _, sc := range schemes {
		if scheme == sc {
			return true
		}
	}
	return false
}

// Location is a parsed storage URL: a bucket and a key (an object) or a prefix (a folder) inside it.
type Location struct {
	// Scheme is the URL scheme, e.g. "s3".
	Scheme string
	// Bucket is the bucket (container) name: the URL's host; "" for file URLs (the local root folder).
	Bucket string
	// Key is the object key or folder prefix inside the bucket, without leading or trailing "/".
	Key string
	// Dir says whether the URL ended with "/" (a folder).
	Dir bool
	// bucketURL is the URL gocloud opens the bucket with (scheme, bucket and the query parameters).
	bucketURL string
}

// Parse parses an object-storage URL.
func Parse(s string) (Location, error) {
	if !IsURL(s) {
		return Location{}, fmt.Errorf("storage: %q is not a storage URL (want one of %s://...)", s,
			strings.Join(schemes, "://, "))
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("storage: %q: %w", s, err)
	}
	l := Location{Scheme: u.Scheme, Bucket: u.Host, Dir: strings.HasSuffix(u.Path, "/")}
	l.Key = strings.Trim(u.Path, "/")
	if strings.Contains(l.Key, "//") {
		return Location{}, fmt.Errorf("storage: %q: empty path element", s)
	}
	for _, e := range strings.Split(l.Key, "/") {
		if e == "." || e == ".." {
			return Location{}, fmt.Errorf("storage: %q: %q in the path", s, e)
		}
	}
	bu := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
	if u.Scheme == "file" {
		if u.Host != "" {
			return Location{}, fmt.Errorf("storage: %q: want file:///ABSOLUTE/PATH", s)
		}
		bu.Path = "/"
	} else if u.Host == "" {
		return Location{}, fmt.Errorf("storage: %q: no bucket (want %s://BUCKET/KEY)", s, u.Scheme)
	}
	l.bucketURL = bu.String()
	return l, nil
}

// String is the URL without its query parameters: SCHEME://BUCKET/KEY (what messages and records name).
func (l Location) String() string {
	s := l.Scheme + "://" + l.Bucket + "/" + l.Key
	if l.Dir && l.Key != "" {
		s += "/"
	}
	return s
}

// Join returns the location of name (slash-separated) under l.
func (l Location) Join(name string) Location {
	name = strings.Trim(name, "/")
	switch {
	case name == "" || name == ".":
		return l
	case l.Key == "":
		l.Key = name
	default:
		l.Key = path.Join(l.Key, name)
	}
	l.Dir = false
	return l
}

// Base is the last element of the key ("" at the bucket's root).
func (l Location) Base() string {
	if l.Key == "" {
		return ""
	}
	return path.Base(l.Key)
}

// buckets holds the buckets opened by this process, by bucket URL (the same clients serve every call; a mem://
// bucket keeps its objects for the life of the process).
var buckets = struct {
	sync.Mutex
	m map[string]*blob.Bucket
}{m: map[string]*blob.Bucket{}}

// openBucket opens (once per process) the bucket of l.
func openBucket(ctx context.Context, l Location) (*blob.Bucket, error) {
	buckets.Lock()
	defer buckets.Unlock()
	if b, ok := buckets.m[l.bucketURL]; ok {
		return b, nil
	}
	b, err := blob.OpenBucket(ctx, l.bucketURL)
	if err != nil {
		return nil, fmt.Errorf("storage: opening the bucket of %s: %w", l, err)
	}
	buckets.m[l.bucketURL] = b
	return b, nil
}

// ErrNotFound is wrapped by the errors of a missing bucket or object (ErrBucketNotFound, ErrObjectNotFound).
var ErrNotFound = errors.New("not found")

// ErrBucketNotFound is wrapped by the errors of a bucket that does not exist or that the credentials cannot see.
var ErrBucketNotFound = fmt.Errorf("bucket %w", ErrNotFound)

// ErrObjectNotFound is wrapped by the errors of a missing object (or an empty prefix) in a bucket that exists.
var ErrObjectNotFound = fmt.Errorf("object %w", ErrNotFound)

// ErrAccessDenied is wrapped by the errors of a request the credentials do not allow.
var ErrAccessDenied = errors.New("access denied")

// describe turns a driver error about the object (or prefix) at l into an error naming it and the cause.
func describe(ctx context.Context, b *blob.Bucket, l Location, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		if ok, aerr := b.IsAccessible(ctx); aerr == nil && !ok {
			return bucketNotFound(l)
		}
		return fmt.Errorf("storage: %s: %w", l, ErrObjectNotFound)
	case gcerrors.PermissionDenied:
		return fmt.Errorf("storage: %s: %w (credentials come from the environment, e.g. AWS_ACCESS_KEY_ID / "+
			"AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*, or the instance's role): %v", l,
			ErrAccessDenied, err)
	case gcerrors.Canceled:
		return fmt.Errorf("storage: %s: %w", l, context.Canceled)
	}
	return fmt.Errorf("storage: %s: %w", l, err)
}

func bucketNotFound(l Location) error {
	return fmt.Errorf("storage: %s: %w: %q does not exist or these credentials cannot see it", l, ErrBucketNotFound,
		l.Bucket)
}

// retryable says whether a read error may go away on a second try (a connection cut, a server error), as
// opposed to a missing object, a refusal or a cancellation.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument, gcerrors.Canceled,
		gcerrors.FailedPrecondition, gcerrors.Unimplemented:
		return false
	}
	return true
}

// Retry is how reads are retried: Attempts tries in all, the n-th retry after Backoff << (n-1).
type Retry struct {
	// Attempts is the number of tries of one read (at least 1). Default (zero value): 5.
	Attempts int
	// Backoff is the wait before the first retry; it doubles after each. Default (zero value): 200ms.
	Backoff time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = 200 * time.Millisecond
	}
	return r
}

// do runs read until it succeeds, fails for good (the error goes through describe), or Attempts tries are spent
// (the error says how many were made).
func (r Retry) do(ctx context.Context, l Location, read func() error, describe func(error) error) error {
	r = r.withDefaults()
	wait := r.Backoff
	for attempt := 1; ; attempt++ {
		err := read()
		if err == nil {
			return nil
		}
		if !retryable(ctx, err) {
			return describe(err)
		}
		if attempt == r.Attempts {
			return fmt.Errorf("storage: %s: read failed %d times, giving up: %w", l, attempt, err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("storage: %s: %w", l, ctx.Err())
		}
		wait *= 2
	}
}

// truncatedError is a read that ended before the object's size.
type truncatedError struct {
	got, want int64
	cause     error
}

func (e *truncatedError) Error() string {
	s := fmt.Sprintf("read cut short: %d of %d bytes", e.got, e.want)
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *truncatedError) Unwrap() error { return e.cause }
