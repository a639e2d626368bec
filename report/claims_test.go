package report_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

// addClaimer records "claimer" 1.0, which claims Requires-Python >=3.8
// and classifiers 2.7, 3.11 and 3.12: declared-unsupported on 2.7,
// passed on 3.11, failed on 3.12, passed on 3.13.
func addClaimer(t *testing.T, s *store.Store) {
	f := fixture{t, s}
	f.release("claimer", "claimer", "1.0", t0)
	claims := outcome.Claims{RequiresPython: ">=3.8", Classifiers: []string{"2.7", "3.11", "3.12"}}
	for py, st := range map[string]outcome.Status{"2.7": outcome.DeclaredUnsupported, "3.11": outcome.Passed, "3.12": outcome.Failed, "3.13": outcome.Passed} {
		c := store.Cell{Project: "claimer", Version: "1.0", Python: py, FullVersion: py + ".1", Status: st, StartedAt: t0, FinishedAt: t0,
			Steps: []store.Step{{Name: "tests", Status: st}}, Claims: claims}
		if err := s.SaveCell(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// What a release claims against what it does, on the page and in JSON,
// the mismatches written by hand from addClaimer's claims and results.
func TestClaimsAgainstResults(t *testing.T) {
	f := newStore(t, "2.7", "3.11", "3.12", "3.13")
	addClaimer(t, f.s)
	srv := serve(t, f.s, report.Options{BaseURL: base})
	want := []string{
		`a classifier names 2.7, which Requires-Python ">=3.8" excludes`,
		`a classifier names 3.12, where it failed`,
		`it passes on 3.13, which no classifier names`,
	}
	var doc struct {
		Releases []struct {
			Claims struct {
				RequiresPython string   `json:"requires_python"`
				Classifiers    []string `json:"classifiers"`
				Mismatches     []string `json:"mismatches"`
			} `json:"claims"`
		} `json:"releases"`
	}
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/api/v1/project/claimer.json").body), &doc); err != nil || len(doc.Releases) != 1 {
		t.Fatalf("%+v, %v", doc, err)
	}
	c := doc.Releases[0].Claims
	if c.RequiresPython != ">=3.8" || strings.Join(c.Classifiers, ",") != "2.7,3.11,3.12" || strings.Join(c.Mismatches, "\n") != strings.Join(want, "\n") {
		t.Errorf("claims %+v, want mismatches\n%s", c, strings.Join(want, "\n"))
	}
	page := get(t, srv.URL+"/project/claimer/").body
	for _, w := range append([]string{`<span class="claims">claims Requires-Python &gt;=3.8; classifiers 2.7, 3.11, 3.12</span>`},
		`<span class="mismatch">a classifier names 2.7, which Requires-Python &#34;&gt;=3.8&#34; excludes</span>`,
		`<span class="mismatch">a classifier names 3.12, where it failed</span>`,
		`<span class="mismatch">it passes on 3.13, which no classifier names</span>`) {
		if !strings.Contains(page, w) {
			t.Errorf("the project page lacks %s", w)
		}
	}
	// A release that claims nothing has no claims in its JSON.
	std := serve(t, standard(t), report.Options{BaseURL: base})
	if body := get(t, std.URL+"/api/v1/project/foo.json").body; strings.Contains(body, `"claims"`) {
		t.Errorf("foo claims nothing, its JSON says %s", body)
	}
}
