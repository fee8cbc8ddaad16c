package suites

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta/method"
	_ "github.com/gotta-ml/gotta/tta/method/all"
	"github.com/gotta-ml/gotta/tta/report"
)

// TestRowsResolve: every row and ablation point of the suites names a registered method, one of its presets and
// parameters it has, with valid values.
func TestRowsResolve(t *testing.T) {
	im, err := ImageNetSuite(map[string]string{"imagenet-a": "/nowhere"}, []string{"imagenet-a"}, 0, 0)
	require.NoError(t, err)
	bim, err := BeyondImageNetSuite(map[string]string{"imagenet-a": "/nowhere"}, []string{"imagenet-a"}, 0)
	require.NoError(t, err)
	for _, s := range []*report.Suite{EmbeddedSuite(false), EmbeddedSuite(true), im, BeyondSuite(false),
		BeyondSuite(true), bim} {
		var exps []report.Experiment
		exps = append(exps, s.Rows...)
		for _, a := range s.Ablations {
			for _, ser := range a.Series {
				exps = append(exps, a.Points(ser)...)
			}
		}
		for _, e := range exps {
			_, err := e.Resolve()
			assert.NoError(t, err, "%s: %s", s.Name, e.ID)
		}
	}
}

// TestAblationsShareRows: an ablation point equal to a table row (TPT with 64 views, rho 0.1, one step, lr 5e-3)
// has the row's key, so it reuses its records.
func TestAblationsShareRows(t *testing.T) {
	rows := SeedRows()
	tptRow := rows[1]
	require.Equal(t, "tpt", tptRow.ID)
	for _, a := range PaperAblations([]float64{8, 64}) {
		for _, ser := range a.Series {
			if ser.ID != "tpt" {
				continue
			}
			shared := false
			for _, pt := range a.Points(ser) {
				shared = shared || pt.Key("m") == tptRow.Key("m")
			}
			assert.True(t, shared, "ablation %s has the TPT row as a point", a.ID)
		}
	}
	keys := map[string]string{}
	for _, r := range rows {
		k := r.Key("m")
		assert.Empty(t, keys[k], "rows %s and %s are the same configuration", keys[k], r.ID)
		keys[k] = r.ID
	}
}

func TestSetupWorkers(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	_, _, opts, err := Setup(nil, env(), "results")
	require.NoError(t, err)
	assert.Equal(t, 1, opts.Workers, "no backend: one worker")
	_, _, opts, err = Setup(nil, env(EnvWorkers, "3"), "results")
	require.NoError(t, err)
	assert.Equal(t, 3, opts.Workers)
	_, _, _, err = Setup(nil, env(EnvWorkers, "many"), "results")
	assert.ErrorContains(t, err, EnvWorkers)
}

// TestBeyondSharesSeedRecords: the beyond suite's CLIP zero-shot and TPT rows are the seed suite's (same keys, so
// the same records), its online rows are online methods, and Named knows both suites.
func TestBeyondSharesSeedRecords(t *testing.T) {
	seed, beyond := EmbeddedSuite(false), BeyondSuite(false)
	assert.Equal(t, seed.RecordsKey, beyond.RecordsKey)
	for _, id := range []string{"zero-shot", "tpt"} {
		a, ok1 := seed.Row(id)
		b, ok2 := beyond.Row(id)
		require.True(t, ok1 && ok2, id)
		assert.Equal(t, a.Key("m"), b.Key("m"), id)
	}
	for _, id := range beyond.StreamRows[1:] {
		e, ok := beyond.Row(id)
		require.True(t, ok, id)
		spec, err := method.Lookup(e.Method)
		require.NoError(t, err)
		assert.True(t, spec.Online, "%s is an online method", id)
	}
	for _, name := range SuiteNames {
		_, err := Named(name, true)
		assert.NoError(t, err, name)
	}
	_, err := Named("nope", true)
	assert.ErrorContains(t, err, "unknown suite")
}

// TestSetN: gotta report -n / GOTTA_N above EmbeddedN gets that many examples per dataset (they were silently capped
// at EmbeddedN), below it the datasets still open EmbeddedN (quick and full runs share record files), and the
// description says the new size.
func TestSetN(t *testing.T) {
	var opened []int
	orig := OpenShiftedMNIST
	t.Cleanup(func() { OpenShiftedMNIST = orig })
	OpenShiftedMNIST = func(corruption string, severity, n int, seed int64) (datasets.Dataset, error) {
		opened = append(opened, n)
		return nil, nil
	}
	for _, tc := range []struct {
		quick    bool
		n, wantN int
		wantOpen int
	}{{false, 0, EmbeddedN, EmbeddedN}, {true, 0, EmbeddedQuickN, EmbeddedN}, {false, EmbeddedN + 25, EmbeddedN + 25,
		EmbeddedN + 25}, {true, 5, 5, EmbeddedN}, {false, 7, 7, EmbeddedN}} {
		for _, s := range []*report.Suite{EmbeddedSuite(tc.quick), BeyondSuite(tc.quick)} {
			SetN(s, tc.n)
			assert.Contains(t, s.Description, fmt.Sprintf("the first %d images each", tc.wantN), s.Name)
			opened = nil
			for _, d := range s.Datasets {
				assert.Equal(t, tc.wantN, d.N, "%s %s", s.Name, d.ID)
				_, err := d.Open()
				require.NoError(t, err)
			}
			require.Len(t, opened, len(s.Datasets))
			for _, n := range opened {
				assert.Equal(t, tc.wantOpen, n, "%s, n=%d", s.Name, tc.n)
			}
		}
	}
}
