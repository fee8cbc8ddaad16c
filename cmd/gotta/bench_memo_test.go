package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchMemoTiny runs gotta bench memo --tiny end to end (through benchMain's dispatch) and checks that
// the table has every row with positive first-example and median times (no timing asserts beyond that).
func TestBenchMemoTiny(t *testing.T) {
	rows := []string{"views (CPU)", "MEMO adapt step (fwd+bwd+SGD)", "MEMO prediction (view 0, prior)", "MEMO reset",
		"MEMO total (views+step+prediction+reset)", "crop views (CPU)", "crop ensemble (forward, no gradient)",
		"MC-dropout (trunk once + heads)"}
	for _, arch := range []string{"resnet50", "resnext50_32x4d", "resnet18", "resnet50:bf16"} {
		t.Run(arch, func(t *testing.T) {
			var out bytes.Buffer
			name, dtype, _ := strings.Cut(arch, ":")
			args := []string{"memo", "--tiny", "--iters", "1", "--views", "4", "--arch", name}
			if dtype != "" {
				args = append(args, "--dtype", dtype) // bf16 convolutions, f32 BN, loss and SGD on f32 variables
			}
			require.NoError(t, benchMain(args, &out))
			text := out.String()
			assert.Contains(t, text, "backend ")
			assert.Contains(t, text, "peak host memory")
			assert.Contains(t, text, "| phase | first example")
			cells := map[string][]string{}
			for _, line := range strings.Split(text, "\n") {
				if f := strings.Split(line, "|"); len(f) == 7 {
					cells[strings.TrimSpace(f[1])] = f[2:6]
				}
			}
			for _, r := range rows {
				c, ok := cells[r]
				if !assert.True(t, ok, "row %q missing in\n%s", r, text) {
					continue
				}
				for _, col := range []int{0, 1} { // first example, median
					v, err := strconv.ParseFloat(strings.TrimSpace(c[col]), 64)
					require.NoError(t, err, "row %q column %d", r, col)
					assert.Greater(t, v, 0.0, "row %q column %d", r, col)
				}
				if rate := strings.TrimSpace(c[3]); rate != "-" {
					v, err := strconv.ParseFloat(rate, 64)
					require.NoError(t, err, "row %q images/s", r)
					assert.Greater(t, v, 0.0, "row %q images/s", r)
				}
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"memo", "--arch", "resnet999"},
			{"memo", "--tiny", "--classes", "7"},
			{"memo", "--tiny", "--dtype", "f8"},
			{"memo", "--tiny", "--views", "1"},
			{"memo", "--tiny", "extra"},
		} {
			assert.Error(t, benchMain(args, &bytes.Buffer{}), "%q", args)
		}
	})
}
