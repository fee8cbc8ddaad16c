package eval

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAheadDataset records the orders ReadAhead is given.
type readAheadDataset struct {
	memDataset
	orders [][]int
}

func (d *readAheadDataset) ReadAhead(order []int) { d.orders = append(d.orders, order) }

// TestRunReadAhead: Run tells a datasets.ReadAheader the examples it will read, in order: its shard, without the
// examples already recorded.
func TestRunReadAhead(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.jsonl")
	ds := &readAheadDataset{memDataset: memDataset{n: 10, bad: -1}}
	_, err := Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: out, Shard: 1, NumShards: 3, Limit: 7})
	require.NoError(t, err)
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: out, Shard: 1, NumShards: 3})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{1, 4}, {7}}, ds.orders)
}
