package report

import (
	"fmt"
	"strings"
	"time"
)

// JobProgress is the state of a whole Run after an example: counts over every cell it runs.
type JobProgress struct {
	// Cell is the cell being evaluated, Index its position among the cells Run runs (0-based) and Cells their count.
	Cell         *Cell
	Index, Cells int
	// Done counts the examples finished (reused or computed), Total those of every cell Run runs.
	Done, Total int
	// Computed counts the examples evaluated by this run, Reused those read from records.
	Computed, Reused int
	// Elapsed is Run's wall time so far; ETA the estimated remaining time: each cell's remaining examples at the
	// rate (wall time per example) its experiment showed on earlier cells of this run, else at the mean rate.
	Elapsed, ETA time.Duration
}

// Rate is the number of examples computed per second.
func (p JobProgress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Computed) / p.Elapsed.Seconds()
}

// String renders p as one line: bar, examples done / total, reused, rate, elapsed, ETA and the current cell.
func (p JobProgress) String() string {
	const width = 24
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	n := min(width, int(frac*width))
	cell := ""
	if p.Cell != nil {
		cell = fmt.Sprintf(" cell %d/%d %s on %s", p.Index+1, p.Cells, p.Cell.Experiment.ID, p.Cell.Dataset)
	}
	return fmt.Sprintf("[%s%s] %d/%d examples (%d reused) %.1f/s elapsed %s ETA %s%s", strings.Repeat("#", n),
		strings.Repeat(".", width-n), p.Done, p.Total, p.Reused, p.Rate(), p.Elapsed.Round(time.Second),
		p.ETA.Round(time.Second), cell)
}

// rates are the wall times per example of the experiments this run evaluated, for the job's ETA.
type rates struct {
	keys   []string                 // the experiment key of each cell run
	perKey map[string]time.Duration // by experiment key: the last finished cell's wall time per example
	// cur is the current cell's experiment key, wall time per example and remaining examples.
	cur       string
	curPer    time.Duration
	curLeft   int
	sum       time.Duration // wall time of the finished cells' examples
	n         int           // their count
	cellSum   time.Duration
	cellCount int
}

// observe records the current cell's progress: elapsed wall time for done examples, left to go.
func (r *rates) observe(key string, elapsed time.Duration, done, left int) {
	r.cur, r.curLeft = key, left
	r.cellSum, r.cellCount = elapsed, done
	if done > 0 {
		r.curPer = elapsed / time.Duration(done)
	}
}

// finish ends the current cell of experiment key.
func (r *rates) finish(key string) {
	if r.cur == key && r.cellCount > 0 {
		r.perKey[key] = r.curPer
		r.sum += r.cellSum
		r.n += r.cellCount
	}
	r.cur, r.curLeft, r.cellCount, r.cellSum = "", 0, 0, 0
}

// eta estimates the remaining time: the current cell's remaining examples at its rate, and the cells after index
// (their examples, totals, not in records, have) at their experiment's rate, else the mean rate so far.
func (r *rates) eta(index int, totals, have []int) time.Duration {
	mean := time.Duration(0)
	if n := r.n + r.cellCount; n > 0 {
		mean = (r.sum + r.cellSum) / time.Duration(n)
	}
	total := time.Duration(r.curLeft) * r.curPer
	for i := index + 1; i < len(totals); i++ {
		left := totals[i] - have[i]
		if left <= 0 {
			continue
		}
		key := r.keys[i]
		per, ok := r.perKey[key]
		if !ok && key == r.cur {
			per, ok = r.curPer, true
		}
		if !ok {
			per = mean
		}
		total += time.Duration(left) * per
	}
	return total
}
