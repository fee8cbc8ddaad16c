// Package k8s holds the Kubernetes manifests and the Dockerfile of GoTTA's cluster runs (see README, "Running on
// a cluster"); its tests decode the manifests strictly into the k8s.io/api types and check what the runs rely on.
package k8s

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// decodeJob decodes a manifest strictly (an unknown or misspelt field is an error) into a batch/v1 Job.
func decodeJob(t *testing.T, file string) *batchv1.Job {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Len(t, bytes.Split(b, []byte("\n---")), 1, "%s: one document", file)
	var job batchv1.Job
	require.NoError(t, yaml.UnmarshalStrict(b, &job), file)
	assert.Equal(t, "batch/v1", job.APIVersion, file)
	assert.Equal(t, "Job", job.Kind, file)
	require.Len(t, job.Spec.Template.Spec.Containers, 1, file)
	return &job
}

// flag returns the value of --name=VALUE in args ("" when absent).
func flag(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestEvalJob: the evaluation Job is an Indexed Job with completions = parallelism = JOB_COMPLETIONS, one GPU per
// pod, gotta eval --shard auto writing one records file per index and uploading it.
func TestEvalJob(t *testing.T) {
	job := decodeJob(t, "eval-job.yaml")
	s := job.Spec
	require.NotNil(t, s.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *s.CompletionMode)
	require.NotNil(t, s.Completions)
	require.NotNil(t, s.Parallelism)
	assert.Equal(t, *s.Completions, *s.Parallelism)
	assert.Greater(t, *s.Completions, int32(1))
	assert.Equal(t, corev1.RestartPolicyNever, s.Template.Spec.RestartPolicy)
	c := s.Template.Spec.Containers[0]
	assert.Equal(t, "eval", c.Args[0])
	assert.Equal(t, "auto", flag(c.Args, "shard"))
	assert.Equal(t, "/records/shard-$(JOB_COMPLETION_INDEX).jsonl", flag(c.Args, "out"))
	assert.Equal(t, strconv.Itoa(int(*s.Completions)), envValue(c, "JOB_COMPLETIONS"),
		"JOB_COMPLETIONS must equal completions")
	gpu := c.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]
	assert.True(t, gpu.Equal(resource.MustParse("1")), "one GPU per pod, got %s", gpu.String())
	assert.True(t, strings.HasSuffix(flag(c.Args, "upload"), "/"), "--upload is a folder URL")
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	assert.Equal(t, "/records", mounts["records"])
	var volumes []string
	for _, v := range s.Template.Spec.Volumes {
		volumes = append(volumes, v.Name)
	}
	for name := range mounts {
		assert.True(t, slices.Contains(volumes, name), "volume %s mounted but not declared", name)
	}
	for _, a := range c.Args {
		assert.Regexp(t, regexp.MustCompile(`^(eval|--[a-z0-9-]+(=.+)?)$`), a, "arguments are --flag=value or --bool")
	}
}

// TestMergeJob: the merge Job reads the folder the evaluation Job uploads to, with the same image.
func TestMergeJob(t *testing.T) {
	eval, merge := decodeJob(t, "eval-job.yaml"), decodeJob(t, "merge-job.yaml")
	ec, mc := eval.Spec.Template.Spec.Containers[0], merge.Spec.Template.Spec.Containers[0]
	assert.Equal(t, ec.Image, mc.Image)
	assert.Equal(t, "merge", mc.Args[0])
	assert.Equal(t, flag(ec.Args, "upload"), mc.Args[len(mc.Args)-1], "merge reads the shards' upload folder")
	assert.NotEmpty(t, flag(mc.Args, "out"))
	_, gpu := mc.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]
	assert.False(t, gpu, "merging needs no GPU")
	assert.Nil(t, merge.Spec.CompletionMode)
}

// TestDockerfile: the image builds gotta with the Go of go.mod and installs the CUDA PJRT plugin of jax[cuda13],
// which GOMLX_BACKEND names.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	d := string(b)
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(mod))
	require.NotNil(t, goVersion)
	assert.Contains(t, d, "FROM golang:"+goVersion[1]+"-")
	assert.Contains(t, d, "go build")
	assert.Contains(t, d, "./cmd/gotta")
	assert.Contains(t, d, "jax[cuda13]")
	assert.Contains(t, d, "jax_plugins.xla_cuda13")
	assert.Contains(t, d, "GOMLX_BACKEND=xla:/usr/local/lib/xla_cuda_plugin.so")
	assert.Contains(t, d, "GOMLX_NO_AUTO_INSTALL=1")
}

// TestStrictDecoding: a misspelt field fails the decoding (the tests above would catch a typo in a manifest).
func TestStrictDecoding(t *testing.T) {
	b, err := os.ReadFile("eval-job.yaml")
	require.NoError(t, err)
	bad := strings.Replace(string(b), "completionMode:", "completionMod:", 1)
	require.NotEqual(t, string(b), bad)
	var job batchv1.Job
	assert.ErrorContains(t, yaml.UnmarshalStrict([]byte(bad), &job), "completionMod")
}
