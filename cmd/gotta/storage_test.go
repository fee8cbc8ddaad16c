package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"sigs.k8s.io/yaml"

	"github.com/gotta-ml/gotta/storage/fakes3"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/eval"
)

// envRunMain makes the test binary run gotta's Main on its arguments instead of the tests (see TestMain): the
// tests start it as a separate gotta process.
const envRunMain = "GOTTA_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// gottaProcess runs gotta (this test binary, see TestMain) with args and extra environment variables; it returns
// the exit code and the output.
func gottaProcess(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envRunMain+"=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	require.NoError(t, err, out.String())
	return 0, out.String()
}

// withoutRoot returns records with the data identity's root cleared (the one field that says where the data
// was read from).
func withoutRoot(t *testing.T, recs []eval.Record) []eval.Record {
	t.Helper()
	for i := range recs {
		require.NotNil(t, recs[i].Data)
		d := *recs[i].Data
		d.Root = ""
		recs[i].Data = &d
	}
	return recs
}

// TestEvalBucketSameRecords: gotta eval of an adapting method (TPT) over a class-folder tree uploaded to an S3
// server gives the records of the same run over the local tree, except the data's root (the bucket URL instead of
// the local folder); the weights are read from the bucket too, fetched once into $GOTTA_HOME/cache.
func TestEvalBucketSameRecords(t *testing.T) {
	home := t.TempDir()
	t.Setenv(tta.EnvHome, home)
	data := tinyImageFolder(t, []string{"goldfish", "tiger_shark", "electric_ray"}, 3)
	srv := fakes3.Start(t, "data")
	srv.PutTree(t, "data", "sets/tiny", data)
	weights, err := os.ReadFile(tinyCLIP)
	require.NoError(t, err)
	srv.Put(t, "data", "weights/tiny rn.safetensors", weights)

	dir := t.TempDir()
	run := func(dataDir, model, out string, extra ...string) {
		args := append([]string{"--method", "tpt", "--model", "clip:tiny=" + model, "--vocab", openAIVocab,
			"--data", "folder=" + dataDir, "--views", "4", "--select", "0.5", "--steps", "1", "--seed", "3",
			"--limit", "7", "--quiet", "--out", out}, extra...)
		var stdout, stderr bytes.Buffer
		require.NoError(t, evalMain(args, &stdout, &stderr), stderr.String())
		assert.Contains(t, stdout.String(), "7 records")
	}
	local := filepath.Join(dir, "local.jsonl")
	run(data, tinyCLIP, local)
	remote := filepath.Join(dir, "remote.jsonl")
	run(srv.URL("data", "sets/tiny"), srv.URL("data", "weights/tiny rn.safetensors"), remote, "--cache")

	want, got := readRecs(t, local), readRecs(t, remote)
	require.Len(t, got, 7)
	abs, err := filepath.Abs(data)
	require.NoError(t, err)
	assert.Equal(t, abs, want[0].Data.Root)
	assert.Equal(t, "s3://data/sets/tiny/", got[0].Data.Root)
	assert.Equal(t, "tiny", got[0].Dataset)
	assert.Equal(t, withoutRoot(t, want), withoutRoot(t, got))

	cached := filepath.Join(home, "cache", "storage", "s3", "data", "objects")
	_, err = os.Stat(filepath.Join(cached, "weights", "tiny rn.safetensors"))
	assert.NoError(t, err, "the weights are not in the cache")
	_, err = os.Stat(filepath.Join(cached, "sets", "tiny", "goldfish", "a.png"))
	assert.NoError(t, err, "--cache kept no image")
	weightGets := srv.Downloads("data", "weights/tiny rn.safetensors")
	imageGets := srv.Downloads("data", "sets/tiny/goldfish/a.png")
	require.NoError(t, os.Remove(remote))
	run(srv.URL("data", "sets/tiny"), srv.URL("data", "weights/tiny rn.safetensors"), remote, "--cache")
	assert.Equal(t, weightGets, srv.Downloads("data", "weights/tiny rn.safetensors"), "weights fetched again")
	assert.Equal(t, imageGets, srv.Downloads("data", "sets/tiny/goldfish/a.png"), "cached image fetched again")
	assert.Equal(t, withoutRoot(t, want), withoutRoot(t, readRecs(t, remote)))
}

// TestShardAutoProcesses: n gotta processes with JOB_COMPLETION_INDEX=0..n-1 (a Kubernetes Indexed Job's pods)
// upload their shards to a bucket; gotta merge of the bucket folder gives exactly the records of one unsharded
// run. --shard auto without the variables is a usage error.
func TestShardAutoProcesses(t *testing.T) {
	t.Setenv(tta.EnvHome, t.TempDir())
	data := tinyImageFolder(t, []string{"goldfish", "tiger_shark", "electric_ray", "stingray"}, 2)
	srv := fakes3.Start(t, "records")
	dir := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"eval", "--method", "tpt", "--model", "clip:tiny=" + tinyCLIP, "--vocab", openAIVocab,
			"--data", "folder=" + data, "--views", "4", "--select", "0.5", "--steps", "1", "--seed", "11", "--quiet",
			"--out", out}, extra...)
	}
	full := filepath.Join(dir, "full.jsonl")
	code, out := gottaProcess(t, nil, args(full)...)
	require.Equal(t, 0, code, out)
	want := readRecs(t, full)
	require.Len(t, want, 8)

	const n = 3
	for i := range n {
		env := []string{EnvJobIndex + "=" + strconv.Itoa(i), EnvJobCompletions + "=" + strconv.Itoa(n)}
		shard := filepath.Join(dir, "pod"+strconv.Itoa(i), "shard-"+strconv.Itoa(i)+".jsonl")
		code, out := gottaProcess(t, env, args(shard, "--shard", "auto", "--upload", srv.URL("records", "run/"))...)
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "shard "+strconv.Itoa(i)+" of 3")
		assert.Contains(t, out, "uploaded "+shard+" to s3://records/run/shard-"+strconv.Itoa(i)+".jsonl")
	}
	merged := filepath.Join(dir, "merged.jsonl")
	code, out = gottaProcess(t, nil, "merge", "--out", merged, "--upload", srv.URL("records", "merged/"),
		srv.URL("records", "run/"))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "8 records in "+merged)
	assert.Equal(t, want, readRecs(t, merged))
	assert.Equal(t, readFile(t, merged), string(srv.Get(t, "records", "merged/merged.jsonl")))

	// A pod restarted on a fresh machine resumes from its uploaded shard: nothing to evaluate again.
	env := []string{EnvJobIndex + "=1", EnvJobCompletions + "=" + strconv.Itoa(n)}
	again := filepath.Join(dir, "fresh", "shard-1.jsonl")
	code, out = gottaProcess(t, env, args(again, "--shard", "auto", "--upload", srv.URL("records", "run/"))...)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "resuming from the records uploaded to")
	assert.Equal(t, readRecs(t, filepath.Join(dir, "pod1", "shard-1.jsonl")), readRecs(t, again))

	for _, env := range [][]string{
		{EnvJobIndex + "=", EnvJobCompletions + "="},
		{EnvJobIndex + "=3", EnvJobCompletions + "=3"},
		{EnvJobIndex + "=0", EnvJobCompletions + "=x"},
	} {
		code, out := gottaProcess(t, env, args(filepath.Join(dir, "bad.jsonl"), "--shard", "auto")...)
		assert.Equal(t, exitUsage, code, out)
		assert.Contains(t, out, "--shard auto")
	}
	code, out = gottaProcess(t, nil, "merge", "--out", filepath.Join(dir, "m.jsonl"), srv.URL("records", "none/"))
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "s3://records/none/")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// TestDataCheckBucket: gotta data check reads a bucket's tree as it reads the local copy, the same report but
// for the first line, unreadable images included.
func TestDataCheckBucket(t *testing.T) {
	data := tinyImageFolder(t, []string{"goldfish", "tiger_shark"}, 2)
	require.NoError(t, os.WriteFile(filepath.Join(data, "goldfish", "broken.png"), []byte("not a png"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(data, "README.txt"), []byte("readme"), 0o644))
	srv := fakes3.Start(t, "data")
	srv.PutTree(t, "data", "check/tiny", data)

	var local, remote bytes.Buffer
	lerr := checkData(&local, data, "folder", 2, true)
	rerr := checkData(&remote, srv.URL("data", "check/tiny"), "folder", 2, true)
	require.Error(t, lerr)
	require.Error(t, rerr)
	assert.Contains(t, remote.String(), "Dataset folder: s3://data/check/tiny/\n")
	assert.Contains(t, remote.String(), "goldfish/broken.png: datasets: decode s3://data/check/tiny/goldfish/broken.png")
	dropFirst := func(s string) string {
		_, rest, _ := strings.Cut(s, "\n")
		return strings.ReplaceAll(rest, data, "ROOT")
	}
	assert.Equal(t, strings.ReplaceAll(dropFirst(local.String()), "ROOT/", ""),
		strings.ReplaceAll(dropFirst(remote.String()), "s3://data/check/tiny/", ""))
	assert.Contains(t, remote.String(), "1 unreadable of 5 images")

	code, out := gottaProcess(t, nil, "data", "check", srv.URL("nobucket", "x"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `bucket not found: "nobucket" does not exist`)
}

// TestEvalJobArgs: the arguments of deploy/k8s's evaluation Job are gotta eval flags: parsed as such, the run stops
// only at --shard auto, for want of the Job's environment.
func TestEvalJobArgs(t *testing.T) {
	b, err := os.ReadFile("../../deploy/k8s/eval-job.yaml")
	require.NoError(t, err)
	var job struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args []string `json:"args"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &job))
	require.Len(t, job.Spec.Template.Spec.Containers, 1)
	args := job.Spec.Template.Spec.Containers[0].Args
	require.Equal(t, "eval", args[0])
	t.Setenv(EnvJobIndex, "")
	var stdout, stderr bytes.Buffer
	err = evalMain(args[1:], &stdout, &stderr)
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), "%v", err)
	assert.Contains(t, err.Error(), "--shard auto needs $JOB_COMPLETION_INDEX and $JOB_COMPLETIONS")
}

// TestEvalSIGTERMUploads: a gotta eval stopped by SIGTERM (Kubernetes stopping a pod) exits 130 after uploading
// the records computed so far; the rerun on a fresh machine resumes from them and ends with every record.
func TestEvalSIGTERMUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a subprocess to write records")
	}
	t.Setenv(tta.EnvHome, t.TempDir())
	data := tinyImageFolder(t, []string{"goldfish", "tiger_shark", "electric_ray", "stingray"}, 4)
	srv := fakes3.Start(t, "records")
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"eval", "--method", "tpt", "--model", "clip:tiny=" + tinyCLIP, "--vocab", openAIVocab,
			"--data", "folder=" + data, "--views", "8", "--select", "0.25", "--steps", "2", "--seed", "5", "--quiet",
			"--out", out, "--upload", srv.URL("records", "run/")}
	}
	first := filepath.Join(dir, "pod-a", "records.jsonl")
	cmd := exec.Command(os.Args[0], args(first)...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(first); err == nil && bytes.Count(b, []byte("\n")) >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out.String())
	assert.Equal(t, exitInterrupted, ee.ExitCode(), out.String())
	partial := readRecs(t, first)
	require.Less(t, len(partial), 16, "the run ended before SIGTERM")
	assert.Equal(t, readFile(t, first), string(srv.Get(t, "records", "run/records.jsonl")))

	second := filepath.Join(dir, "pod-b", "records.jsonl")
	code, log := gottaProcess(t, nil, args(second)...)
	require.Equal(t, 0, code, log)
	assert.Contains(t, log, "resuming from the records uploaded to")
	all := readRecs(t, second)
	require.Len(t, all, 16)
	assert.Equal(t, partial, all[:len(partial)])
	assert.Equal(t, readFile(t, second), string(srv.Get(t, "records", "run/records.jsonl")))
}
