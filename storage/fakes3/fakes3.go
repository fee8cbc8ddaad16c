// Package fakes3 starts an S3-compatible server in the test's process (gofakes3 over memory, on 127.0.0.1) for
// the tests of the storage code: the real AWS SDK client of gocloud.dev/blob/s3blob talks to it over HTTP. It can
// cut the body of chosen downloads short and refuse a bucket (403 AccessDenied), and counts list requests.
package fakes3

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running fake S3 server.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string
	backend  *s3mem.Backend

	mu     sync.Mutex
	cut    map[string]int // "/bucket/key" -> downloads still to cut short
	denied map[string]bool
	lists  int
	gets   map[string]int
}

// Start starts a server for the test, with the given buckets created, and sets the environment the AWS SDK
// reads (static credentials, no shared config files, no instance metadata) for the test's duration. The server
// stops at the end of the test.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{backend: s3mem.New(), cut: map[string]int{}, denied: map[string]bool{}, gets: map[string]int{}}
	for _, b := range buckets {
		if err := s.backend.CreateBucket(b); err != nil {
			t.Fatalf("fakes3: creating bucket %s: %v", b, err)
		}
	}
	faker := gofakes3.New(s.backend, gofakes3.WithTimeSkewLimit(0))
	ts := httptest.NewServer(s.wrap(faker.Server()))
	t.Cleanup(ts.Close)
	s.Endpoint = ts.URL
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "fake-key",
		"AWS_SECRET_ACCESS_KEY":       "fake-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "us-east-1",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
	} {
		t.Setenv(k, v)
	}
	return s
}

// URL returns the s3:// URL of key (an object or a folder) in bucket, with the query parameters that send the
// requests to this server.
func (s *Server) URL(bucket, key string) string {
	u := url.URL{Scheme: "s3", Host: bucket, Path: "/" + key}
	q := url.Values{"endpoint": {s.Endpoint}, "use_path_style": {"true"}, "region": {"us-east-1"},
		"disable_https": {"true"}, "response_checksum_validation": {"when_required"}}
	u.RawQuery = q.Encode()
	return u.String()
}

// Put stores an object directly in the server's memory.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if _, err := s.backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)),
		nil); err != nil {
		t.Fatalf("fakes3: put %s/%s: %v", bucket, key, err)
	}
}

// PutTree stores every file under dir as bucket/prefix/RELATIVE/PATH.
func (s *Server) PutTree(t testing.TB, bucket, prefix, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if prefix != "" {
			key = strings.TrimSuffix(prefix, "/") + "/" + key
		}
		s.Put(t, bucket, key, data)
		return nil
	})
	if err != nil {
		t.Fatalf("fakes3: put tree %s: %v", dir, err)
	}
}

// Get returns an object's bytes, read directly from the server's memory.
func (s *Server) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	o, err := s.backend.GetObject(bucket, key, nil)
	if err != nil {
		t.Fatalf("fakes3: get %s/%s: %v", bucket, key, err)
	}
	defer o.Contents.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(o.Contents); err != nil {
		t.Fatalf("fakes3: get %s/%s: %v", bucket, key, err)
	}
	return b.Bytes()
}

// CutDownloads makes the next n downloads of bucket/key send the headers (with the full Content-Length) and half
// of the body, then drop the connection.
func (s *Server) CutDownloads(bucket, key string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut["/"+bucket+"/"+key] = n
}

// Deny makes every request about bucket fail with 403 AccessDenied.
func (s *Server) Deny(bucket string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[bucket] = true
}

// Lists is the number of list requests served so far.
func (s *Server) Lists() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// Downloads is the number of GET requests of bucket/key served so far.
func (s *Server) Downloads(bucket, key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets["/"+bucket+"/"+key]
}

func (s *Server) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		bucket, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		s.mu.Lock()
		denied := s.denied[bucket]
		isList := r.Method == http.MethodGet && !strings.Contains(strings.Trim(p, "/"), "/") &&
			!r.URL.Query().Has("location")
		if isList {
			s.lists++
		}
		cut := false
		if r.Method == http.MethodGet && !isList {
			s.gets[p]++
			if s.cut[p] > 0 {
				s.cut[p]--
				cut = true
			}
		}
		s.mu.Unlock()
		if denied {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
				`<Error><Code>AccessDenied</Code><Message>Access Denied</Message><Resource>%s</Resource></Error>`, p)
			return
		}
		if !cut {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // Drops the connection: the client sees the body end early.
	})
}
