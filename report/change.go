package report

// A cell against the same Python's cell of the previous release (package
// regression's classes), and, for a failing cell, whether the project
// ever passed on that Python: debci's REGRESSION against ALWAYSFAIL.

import (
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/store"
)

// History labels of a failing cell.
const (
	// historyRegression: an earlier release passed on this Python.
	historyRegression = "regression"
	// historyAlwaysFail: no earlier release passed on this Python.
	historyAlwaysFail = "always-fail"
)

// cellChange is a cell's class against the previous release's cell on
// its Python.
type cellChange struct {
	Against string // the previous release's version
	Verdict regression.Verdict
}

func stepsOf(c *store.Cell) []regression.Step {
	out := make([]regression.Step, 0, len(c.Steps))
	for _, st := range c.Steps {
		// A resource limit reruns reproduced counts as the package's.
		out = append(out, regression.Step{Name: st.Name, Status: st.Status, Reason: st.Reason,
			Confirmed: c.Confirmation.State == store.Confirmed})
	}
	return out
}

// failing reports whether a cell's status is the package's failure (not
// one being confirmed, nor a flaky one).
func failing(c *store.Cell) bool {
	return c != nil && (c.Status == outcome.Failed || c.Status == outcome.Rejected) && !c.Confirmation.Unsettled()
}

// annotate sets, on every cell of a project's releases (newest first),
// its change against the previous release with a cell on its Python, and
// on a failing cell its history.
func annotate(pd *projectData) {
	for col := range pd.Pythons {
		passedBefore := false // an older release passed on this Python
		var prev *releaseData
		for i := len(pd.Releases) - 1; i >= 0; i-- {
			rd := &pd.Releases[i]
			if col >= len(rd.Cells) {
				continue
			}
			c := &rd.Cells[col]
			if c.Cell == nil {
				continue
			}
			if prev != nil {
				c.Change = &cellChange{Against: prev.Version, Verdict: regression.Classify(stepsOf(prev.Cells[col].Cell), stepsOf(c.Cell))}
			}
			if failing(c.Cell) {
				c.History = historyAlwaysFail
				if passedBefore {
					c.History = historyRegression
				}
			}
			if c.Cell.Status == outcome.Passed {
				passedBefore = true
			}
			prev = rd
		}
	}
}
