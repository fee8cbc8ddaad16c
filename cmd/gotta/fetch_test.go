package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileServer serves fixed contents by URL path and counts requests; nothing leaves the machine.
func fileServer(t *testing.T, files map[string][]byte) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestFetchFiles(t *testing.T) {
	good := []byte("model weights, pretend")
	files := map[string][]byte{"/org/repo/resolve/main/model.safetensors": good, "/other/file.bin": []byte("xyz")}
	srv, hits := fileServer(t, files)
	dir := t.TempDir()
	src := weights.SourceFile{Host: "https://example.invalid", Path: "org/repo/resolve/main/model.safetensors",
		Local: "resnet/x/model.safetensors", SHA256: sha(good)}
	dest := filepath.Join(dir, "resnet", "x", "model.safetensors")

	t.Run("good download", func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{src}))
		got, err := os.ReadFile(dest)
		require.NoError(t, err)
		assert.Equal(t, good, got)
		assert.Contains(t, out.String(), sha(good))
		assert.Equal(t, int32(1), hits.Load())
		entries, err := os.ReadDir(filepath.Dir(dest))
		require.NoError(t, err)
		assert.Len(t, entries, 1, "no temporary file left")
	})
	t.Run("present: no-op", func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{src}))
		assert.Equal(t, int32(1), hits.Load(), "no request when the file is present with the right hash")
		assert.Contains(t, out.String(), "present")
	})
	t.Run("present with wrong hash: downloaded again", func(t *testing.T) {
		require.NoError(t, os.WriteFile(dest, []byte("corrupt"), 0o644))
		var out bytes.Buffer
		require.NoError(t, fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{src}))
		got, err := os.ReadFile(dest)
		require.NoError(t, err)
		assert.Equal(t, good, got)
		assert.Contains(t, out.String(), "mismatch")
	})
	t.Run("hash mismatch", func(t *testing.T) {
		bad := src
		bad.Local = "resnet/y/model.safetensors"
		bad.SHA256 = strings.Repeat("0", 64)
		var out bytes.Buffer
		err := fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{bad})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "SHA-256 mismatch")
		assert.Contains(t, err.Error(), sha(good))
		_, statErr := os.Stat(filepath.Join(dir, "resnet", "y", "model.safetensors"))
		assert.True(t, os.IsNotExist(statErr), "no file left")
		entries, _ := os.ReadDir(filepath.Join(dir, "resnet", "y"))
		assert.Empty(t, entries, "no temporary file left")
	})
	t.Run("unknown hash accepted and printed", func(t *testing.T) {
		other := weights.SourceFile{Host: "https://example.invalid", Path: "other/file.bin", Local: "misc/file.bin"}
		var out bytes.Buffer
		require.NoError(t, fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{other}))
		assert.Contains(t, out.String(), sha([]byte("xyz")))
		assert.Contains(t, out.String(), "no known hash")
	})
}

func TestFetchOffline(t *testing.T) {
	// A server that is closed at once: every connection is refused, as on a machine without network.
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	home := t.TempDir()
	t.Setenv("GOTTA_HOME", home)
	t.Setenv(EnvFetchBaseURL, base)

	var out bytes.Buffer
	err := fetchMain([]string{"clip", "RN50"}, &out)
	require.Error(t, err)
	msg := out.String()
	s, lerr := weights.LookupSource("clip", "RN50")
	require.NoError(t, lerr)
	require.Len(t, s.Files, 2)
	for _, f := range s.Files {
		assert.Contains(t, msg, f.URL(base))
		assert.Contains(t, msg, f.LocalPath(filepath.Join(home, "weights")))
	}
	assert.Contains(t, msg, "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a", "known hash printed")
	assert.Contains(t, msg, "unknown (any file accepted")
	assert.Contains(t, err.Error(), "2 file(s) not downloaded")
	assert.Equal(t, 1, Main([]string{"fetch", "--base-url", base, "resnet", "resnet50"}), "non-zero exit code")

	entries, _ := os.ReadDir(filepath.Join(home, "weights", "clip"))
	for _, e := range entries {
		assert.True(t, e.IsDir(), "no partial file %s left", e.Name())
	}
}

// TestFetchCommand runs the subcommand end to end against a local server standing in for the hub and GitHub.
func TestFetchCommand(t *testing.T) {
	// The smallest safetensors file: an 8-byte header length and an empty JSON header (unknown hashes are checked
	// to be what their name says).
	weightsFile := append(binary.LittleEndian.AppendUint64(nil, 2), "{}"...)
	s, err := weights.LookupSource("clip", "RN50")
	require.NoError(t, err)
	files := map[string][]byte{"/" + s.Files[0].Path: weightsFile, "/" + s.Files[1].Path: []byte("not the vocabulary")}
	srv, _ := fileServer(t, files)
	dir := t.TempDir()

	var out bytes.Buffer
	err = fetchMain([]string{"--base-url", srv.URL, "--dir", dir, "clip", "RN50"}, &out)
	require.Error(t, err, "the vocabulary served has the wrong hash")
	assert.Contains(t, err.Error(), "SHA-256 mismatch")
	got, rerr := os.ReadFile(s.Files[0].LocalPath(dir))
	require.NoError(t, rerr, "the weights (unknown hash) were accepted")
	assert.Equal(t, weightsFile, got)
	assert.Contains(t, out.String(), sha(weightsFile))
	_, serr := os.Stat(s.Files[1].LocalPath(dir))
	assert.True(t, os.IsNotExist(serr))

	require.Error(t, fetchMain([]string{"--dir", dir, "clip", "RN49"}, &out))
	require.Error(t, fetchMain([]string{"--dir", dir, "vgg", "vgg16"}, &out))
	out.Reset()
	require.NoError(t, fetchMain([]string{"--list", "--dir", dir}, &out))
	assert.Contains(t, out.String(), "ViT-L/14")
	assert.Contains(t, out.String(), "resnext50")
}

// TestFetchRefusesAnHTMLPage: a server on 127.0.0.1 answers 200 with an HTML error page for files of unknown hash;
// nothing is saved, the error says why, and an HTML page already in place is fetched again.
func TestFetchRefusesAnHTMLPage(t *testing.T) {
	page := []byte("<!DOCTYPE html>\n<html><body>Rate limited. Try again later.</body></html>\n")
	srv, _ := fileServer(t, map[string][]byte{"/m/model.safetensors": page, "/v/vocab.txt.gz": page})
	dir := t.TempDir()
	for _, src := range []weights.SourceFile{
		{Host: "https://example.invalid", Path: "m/model.safetensors", Local: "clip/m/model.safetensors"},
		{Host: "https://example.invalid", Path: "v/vocab.txt.gz", Local: "clip/vocab.txt.gz"},
	} {
		var out bytes.Buffer
		err := fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{src})
		require.Error(t, err, src.Local)
		assert.Contains(t, err.Error(), "deleted, not saved as")
		_, serr := os.Stat(src.LocalPath(dir))
		assert.True(t, os.IsNotExist(serr), "%s must not exist", src.Local)
		entries, _ := os.ReadDir(filepath.Dir(src.LocalPath(dir)))
		for _, e := range entries {
			assert.True(t, e.IsDir(), "no temporary file left: %s", e.Name())
		}

		// An HTML page saved by an older gotta is not "ok": it is downloaded again (and refused again).
		require.NoError(t, os.WriteFile(src.LocalPath(dir), page, 0o644))
		out.Reset()
		err = fetchFiles(context.Background(), &out, srv.Client(), srv.URL, dir, []weights.SourceFile{src})
		require.Error(t, err)
		assert.Contains(t, out.String(), "invalid  ")
		assert.NotContains(t, out.String(), "ok       ")
		_ = os.Remove(src.LocalPath(dir))
	}
}
