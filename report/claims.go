package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// claimsJSON is what a release claims of the Pythons it supports beside
// what it does (pyreadiness-style): its Requires-Python, the minor
// versions its classifiers name, and each disagreement with its results.
type claimsJSON struct {
	RequiresPython string   `json:"requires_python"`
	Classifiers    []string `json:"classifiers"`
	Mismatches     []string `json:"mismatches"`
}

// releaseClaims reads a release's claims from its cells (each run reads
// them from the same sdist) and sets them against the cells; nil when the
// release claims nothing or has no cell yet.
func releaseClaims(pys []store.Python, cells []cellData) *claimsJSON {
	var c outcome.Claims
	for _, cd := range cells {
		if cd.Cell != nil && !cd.Cell.Claims.Empty() {
			c = cd.Cell.Claims
			break
		}
	}
	if c.Empty() {
		return nil
	}
	out := &claimsJSON{RequiresPython: c.RequiresPython, Classifiers: slices.Clone(c.Classifiers), Mismatches: []string{}}
	if out.Classifiers == nil {
		out.Classifiers = []string{}
	}
	full := map[string]string{}
	for _, p := range pys {
		full[p.Python] = p.FullVersion
	}
	for _, cd := range cells {
		if cd.Cell == nil {
			continue
		}
		py, st := cd.Python, cd.Cell.Status
		classified := slices.Contains(c.Classifiers, py)
		admitted := true
		if c.RequiresPython != "" {
			v := full[py]
			if v == "" {
				v = py
			}
			if ok, err := dist.PythonSatisfies(c.RequiresPython, v); err == nil {
				admitted = ok
			}
		}
		switch {
		case classified && !admitted:
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("a classifier names %s, which Requires-Python %q excludes", py, c.RequiresPython))
		case classified && st.PackageFault():
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("a classifier names %s, where it %s", py, st))
		case !classified && admitted && st.PackageFault() && c.RequiresPython != "":
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("Requires-Python %q admits %s, where it %s", c.RequiresPython, py, st))
		case !classified && len(c.Classifiers) > 0 && st == outcome.Passed:
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("it passes on %s, which no classifier names", py))
		}
	}
	return out
}

// claimsNote is the project page's line of a release's claims.
func claimsNote(c *claimsJSON) string {
	if c == nil {
		return ""
	}
	var parts []string
	if c.RequiresPython != "" {
		parts = append(parts, "Requires-Python "+c.RequiresPython)
	}
	if len(c.Classifiers) > 0 {
		parts = append(parts, "classifiers "+strings.Join(c.Classifiers, ", "))
	}
	return "claims " + strings.Join(parts, "; ")
}
