package report

// A cell against the same Python's cell of the previous release (package
// regression's classes), and, for a failing cell, whether the project
// ever passed on that Python: debci's REGRESSION against ALWAYSFAIL.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/pysmoke/pysmoke/feeds"
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

// The overview's recent changes: among the cells that finished last
// (recentScan of them), those whose status differs from the same Python's
// cell of the release before, both telling (neither the machinery's nor
// still being confirmed), newest first, at most recentShown. They are the
// changes the service-wide feed tells, found without reading every
// project.
const (
	recentScan  = 200
	recentShown = 10
)

type recentChange struct {
	Name, Version, Python, URL string
	Against                    string // the release before
	From, FromClass            string
	To, ToClass                string
	When                       string
}

// recentChanges finds the overview's recent changes (nil without
// Options.Recent).
func (h *Handler) recentChanges(ctx context.Context) ([]recentChange, error) {
	if h.recent == nil {
		return nil, nil
	}
	cells, err := h.recent.RecentCells(ctx, recentScan)
	if err != nil {
		return nil, fmt.Errorf("recent cells: %w", err)
	}
	projects := map[string]*projectData{}
	var out []recentChange
	for _, c := range cells {
		pd, ok := projects[c.Project]
		if !ok {
			if pd, err = loadProject(ctx, h.src, c.Project); errors.Is(err, errNoProject) {
				continue
			} else if err != nil {
				return nil, err
			}
			projects[c.Project] = pd
		}
		cur, prev := pd.cellPair(c.Version, c.Python)
		if cur == nil || prev == nil || cur.Cell.RunID != c.RunID || !feeds.Telling(cur.Cell) || !feeds.Telling(prev.Cell) ||
			cur.Cell.Status == prev.Cell.Status {
			continue
		}
		from, to := string(prev.Cell.Status), string(cur.Cell.Status)
		out = append(out, recentChange{Name: c.Project, Version: c.Version, Python: c.Python, Against: cur.Change.Against,
			URL:  h.prefix + projectPath(c.Project) + "#v" + url.PathEscape(c.Version),
			From: from, FromClass: statusClass(from), To: to, ToClass: statusClass(to),
			When: c.FinishedAt.UTC().Format("2006-01-02 15:04 UTC")})
		if len(out) == recentShown {
			break
		}
	}
	return out, nil
}

// cellPair returns release version's cell on python and the cell it is
// compared with (the previous release's with a cell there), or nils.
func (pd *projectData) cellPair(version, python string) (cur, prev *cellData) {
	col := slices.IndexFunc(pd.Pythons, func(p store.Python) bool { return p.Python == python })
	if col < 0 {
		return nil, nil
	}
	for i := range pd.Releases {
		rd := &pd.Releases[i]
		if rd.Version != version || col >= len(rd.Cells) {
			continue
		}
		cur = &rd.Cells[col]
		if cur.Cell == nil || cur.Change == nil {
			return nil, nil
		}
		for j := range pd.Releases {
			if pd.Releases[j].Version == cur.Change.Against && col < len(pd.Releases[j].Cells) {
				if p := &pd.Releases[j].Cells[col]; p.Cell != nil {
					return cur, p
				}
			}
		}
	}
	return nil, nil
}
