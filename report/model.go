package report

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// errNoProject: the project has no release.
var errNoProject = errors.New("no such project")

// pending is the status shown for a recorded Python without a cell.
const pending = "pending"

// projectData is what the project page and its JSON show; both are
// rendered from it, so the JSON holds everything the page does.
type projectData struct {
	Name        string
	DisplayName string // as the newest release spells it
	Pythons     []store.Python
	Releases    []releaseData // newest first
}

type releaseData struct {
	store.Release
	Cells []cellData // one per recorded Python, in their order
}

type cellData struct {
	Python string
	Cell   *store.Cell // nil while pending
	// Change is the cell against the previous release's on its Python
	// (nil for the first); History, on a failing cell, says whether an
	// earlier release passed there (report/change.go).
	Change  *cellChange
	History string
}

func (c cellData) Status() string {
	if c.Cell == nil {
		return pending
	}
	return string(c.Cell.Status)
}

// FailingStep is the step that gave the cell its status (the first step
// with that status), or nil for a pending or passing cell.
func (c cellData) FailingStep() *store.Step { return c.Cell.FailingStep() }

func loadProject(ctx context.Context, src Source, name string) (*projectData, error) {
	rels, err := src.Releases(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("releases of %s: %w", name, err)
	}
	if len(rels) == 0 {
		return nil, errNoProject
	}
	pys, err := src.Pythons(ctx)
	if err != nil {
		return nil, fmt.Errorf("pythons: %w", err)
	}
	pd := &projectData{Name: name, DisplayName: rels[0].DisplayName, Pythons: pys}
	for _, r := range rels {
		rd, err := loadRelease(ctx, src, pys, r)
		if err != nil {
			return nil, err
		}
		pd.Releases = append(pd.Releases, rd)
	}
	annotate(pd)
	return pd, nil
}

func loadRelease(ctx context.Context, src Source, pys []store.Python, r store.Release) (releaseData, error) {
	cells, err := src.Cells(ctx, r.Project, r.Version)
	if err != nil {
		return releaseData{}, fmt.Errorf("cells of %s %s: %w", r.Project, r.Version, err)
	}
	byPy := make(map[string]*store.Cell, len(cells))
	for i := range cells {
		byPy[cells[i].Python] = &cells[i]
	}
	rd := releaseData{Release: r}
	for _, py := range pys {
		rd.Cells = append(rd.Cells, cellData{Python: py.Python, Cell: byPy[py.Python]})
	}
	return rd, nil
}

// hasCell reports whether any recorded Python has a cell.
func (rd releaseData) hasCell() bool {
	for _, c := range rd.Cells {
		if c.Cell != nil {
			return true
		}
	}
	return false
}

// Colour classes: green passed, red the package's fault, yellow a limit or
// no tests, grey not applicable or pysmoke's own failure, blank pending.
const (
	classPass    = "pass"
	classFail    = "fail"
	classWarn    = "warn"
	classGrey    = "grey"
	classPending = "pending"
)

func statusClass(status string) string {
	switch outcome.Status(status) {
	case outcome.Passed:
		return classPass
	case outcome.Failed, outcome.Rejected:
		return classFail
	case outcome.ResourceLimit, outcome.NoTests:
		return classWarn
	case outcome.NotAvailable, outcome.Machinery, outcome.DeclaredUnsupported:
		// Grey, never red: none of these is the package's failure on this
		// Python (declared unsupported is the package's own word).
		return classGrey
	}
	if status == pending {
		return classPending
	}
	return classGrey // a status this version does not know
}

// statusOrder is the order of the parts of a one-line summary.
var statusOrder = []string{
	string(outcome.Passed), string(outcome.Failed), string(outcome.Rejected), string(outcome.ResourceLimit),
	string(outcome.NoTests), string(outcome.Machinery), string(outcome.NotAvailable),
	string(outcome.DeclaredUnsupported), pending,
}

// summaryPart is one status of a one-line summary and the Pythons with it.
type summaryPart struct {
	Status, Class, Pythons string
}

// summarize groups a release's cells by status: "passed 2.7, 3.6-3.11",
// "failed 3.12, 3.13", "pending 3.14".
func summarize(pys []store.Python, cells []cellData) []summaryPart {
	by := map[string][]string{}
	var unknown []string
	for _, c := range cells {
		s := c.Status()
		if by[s] == nil && !known(s) {
			unknown = append(unknown, s)
		}
		by[s] = append(by[s], c.Python)
	}
	var out []summaryPart
	for _, s := range append(statusOrder[:len(statusOrder):len(statusOrder)], unknown...) {
		if len(by[s]) > 0 {
			out = append(out, summaryPart{Status: s, Class: statusClass(s), Pythons: compact(pys, by[s])})
		}
	}
	return out
}

func known(status string) bool {
	for _, s := range statusOrder {
		if s == status {
			return true
		}
	}
	return false
}

// compact lists some of the recorded Pythons (given in the recorded order)
// briefly: a run of three or more neighbours in the recorded list becomes
// "first-last", anything else is listed: "2.7, 3.6-3.11, 3.13".
func compact(pys []store.Python, some []string) string {
	pos := make(map[string]int, len(pys))
	for i, p := range pys {
		pos[p.Python] = i
	}
	var parts []string
	for i := 0; i < len(some); {
		j := i
		for j+1 < len(some) && pos[some[j+1]] == pos[some[j]]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, some[i]+"-"+some[j])
		} else {
			parts = append(parts, some[i:j+1]...)
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
