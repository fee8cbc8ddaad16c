package report

import "github.com/gotta-ml/gotta/tta/method"

// ErrNotAvailable marks a method or model that this build or this machine cannot provide: the report shows the row
// as "not available" with the error's text. It is method.ErrNotAvailable.
var ErrNotAvailable = method.ErrNotAvailable

// WithRows returns a view of r restricted to the suite rows with the given IDs (in the suite's order); the cells
// are shared. Tables and figures of the view show only those rows.
func (r *Results) WithRows(ids ...string) *Results {
	sub := *r
	suite := *r.Suite
	suite.Rows = nil
	for _, e := range r.Suite.Rows {
		for _, id := range ids {
			if e.ID == id {
				suite.Rows = append(suite.Rows, e)
			}
		}
	}
	sub.Suite = &suite
	return &sub
}

// SubTable is MainTable restricted to the rows with the given IDs (in the suite's order), titled title.
func SubTable(res *Results, title string, ids []string) Table {
	t := MainTable(res.WithRows(ids...))
	if title != "" {
		t.Title = title
	}
	return t
}
