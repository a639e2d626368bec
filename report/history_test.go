package report_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

// wheel writes a small wheel of pkg 1.0 with the given METADATA lines and
// extra members, and keeps it in arts.
func wheel(t *testing.T, arts *artifacts.Store, metadata string, members map[string]string) (string, int64) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string]string{
		"pkg/__init__.py":                 "VERSION = '1.0'\n",
		"pkg-1.0.dist-info/METADATA":      "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n" + metadata + "\n",
		"pkg-1.0.dist-info/WHEEL":         "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.38.4)\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"pkg-1.0.dist-info/top_level.txt": "pkg\n",
	}
	for k, v := range members {
		files[k] = v
	}
	for _, name := range []string{"pkg/__init__.py", "pkg/extra.py", "pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/WHEEL", "pkg-1.0.dist-info/top_level.txt"} {
		text, ok := files[name]
		if !ok {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(text))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum, n, err := arts.Put(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return sum, n
}

// Every run of a cell is served, and the diff between the archives of two
// runs of it (here an earlier toolchain's and the current one), with what
// the second added, by hand: a module and a requirement.
func TestRunsAndDiff(t *testing.T) {
	ctx := context.Background()
	f := newStore(t, "3.12")
	f.release("pkg", "pkg", "1.0", t0)
	arts, err := artifacts.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	oldSum, oldSize := wheel(t, arts, "", nil)
	newSum, newSize := wheel(t, arts, "Requires-Dist: six>=1.16", map[string]string{"pkg/extra.py": "X = 1\n"})
	save := func(cause outcome.Cause, sum string, size int64, digest string) {
		t.Helper()
		c := store.Cell{Project: "pkg", Version: "1.0", Python: "3.12", FullVersion: "3.12.1", Status: outcome.Passed, Cause: cause,
			Worker: "w1", StartedAt: t0, FinishedAt: t0.Add(time.Minute), ProvenanceDigest: digest,
			Steps: []store.Step{
				{Name: "sdist", Status: outcome.Failed, Reason: outcome.ReasonExitStatus},
				{Name: "wheel", Status: outcome.Passed, Artifacts: []store.Artifact{{Path: "pkg-1.0-py3-none-any.whl", Size: size, SHA256: sum}}},
			}}
		if err := f.s.SaveCell(ctx, c, map[string][]byte{"wheel": []byte("wheel log of the " + string(cause) + " run\n")}); err != nil {
			t.Fatal(err)
		}
	}
	save(outcome.CauseNew, oldSum, oldSize, "toolchain-a")
	save(outcome.CauseProvenance, newSum, newSize, "toolchain-b")
	srv := serve(t, f.s, report.Options{BaseURL: base, Runs: f.s, Artifacts: arts})

	// The runs, newest first.
	resp := get(t, srv.URL+"/api/v1/project/pkg/runs/1.0/3.12")
	if resp.code != http.StatusOK {
		t.Fatalf("runs: %d %s", resp.code, resp.body)
	}
	var runs struct {
		Schema string `json:"schema"`
		Runs   []struct {
			Run              int64  `json:"run"`
			Cause            string `json:"cause"`
			State            string `json:"state"`
			Current          bool   `json:"current"`
			ProvenanceDigest string `json:"provenance_digest"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(resp.body), &runs); err != nil {
		t.Fatal(err)
	}
	if runs.Schema != "pysmoke.runs/v1" || len(runs.Runs) != 2 ||
		runs.Runs[0].Cause != "provenance" || !runs.Runs[0].Current || runs.Runs[0].ProvenanceDigest != "toolchain-b" ||
		runs.Runs[1].Cause != "new" || runs.Runs[1].Current || runs.Runs[1].State != "complete" {
		t.Fatalf("runs %+v", runs)
	}
	first := runs.Runs[1].Run
	// Each run's logs are its own.
	var withLogs struct {
		Runs []struct {
			Steps []struct {
				Name   string `json:"name"`
				LogURL string `json:"log_url"`
			} `json:"steps"`
		} `json:"runs"`
	}
	json.Unmarshal([]byte(resp.body), &withLogs)
	firstLog := withLogs.Runs[1].Steps[1].LogURL
	if want := base + "/project/pkg/run/" + itoa(first) + "/wheel.log"; firstLog != want {
		t.Errorf("first run's wheel log at %q, want %q", firstLog, want)
	}
	if resp := get(t, srv.URL+strings.TrimPrefix(firstLog, base)); resp.code != http.StatusOK || resp.body != "wheel log of the new run\n" ||
		resp.header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.header.Get("Cache-Control") != "max-age=86400" {
		t.Errorf("first run's log: %d %q %v", resp.code, resp.body, resp.header)
	}
	// Its page: the run's step, how it ended, the log's tail.
	page := get(t, srv.URL+"/project/pkg/run/"+itoa(first)+"/sdist.html")
	if page.code != http.StatusOK || !strings.Contains(page.body, "sdist step's log <small>(run "+itoa(first)+")</small>") ||
		!strings.Contains(page.body, `<p class="s-fail outcome">failed (exit-status), exit 0, 0s</p>`) || !strings.Contains(page.body, "The step printed nothing.") {
		t.Errorf("first run's sdist log page: %d\n%s", page.code, page.body)
	}
	for path, code := range map[string]int{
		"/project/pkg/run/" + itoa(first) + "/tests.html": http.StatusNotFound,
		"/project/pkg/run/" + itoa(first) + "/sdist.log":  http.StatusOK,       // a step, its log empty
		"/project/pkg/run/" + itoa(first) + "/tests.log":  http.StatusNotFound, // no such step
		"/project/pkg/run/999/wheel.log":                  http.StatusNotFound,
		"/project/pkg/run/x/wheel.log":                    http.StatusBadRequest,
		"/project/pkg/run/0/wheel.log":                    http.StatusBadRequest,
		"/project/pkg/run/1/wheel.txt":                    http.StatusNotFound,
	} {
		if resp := get(t, srv.URL+path); resp.code != code {
			t.Errorf("%s: %d, want %d", path, resp.code, code)
		}
	}

	// The project JSON names the current run and where its runs are.
	var doc struct {
		Releases []struct {
			Cells []struct {
				Run     int64  `json:"run"`
				Cause   string `json:"cause"`
				RunsURL string `json:"runs_url"`
			} `json:"cells"`
		} `json:"releases"`
	}
	json.Unmarshal([]byte(get(t, srv.URL+"/api/v1/project/pkg.json").body), &doc)
	if c := doc.Releases[0].Cells[0]; c.Run != runs.Runs[0].Run || c.Cause != "provenance" || c.RunsURL != base+"/api/v1/project/pkg/runs/1.0/3.12" {
		t.Errorf("project JSON cell %+v", c)
	}

	// The diff between the first run and the cell's current one.
	resp = get(t, srv.URL+"/api/v1/project/pkg/diff?a=run-"+itoa(first)+"&b=1.0@3.12")
	if resp.code != http.StatusOK {
		t.Fatalf("diff: %d %s", resp.code, resp.body)
	}
	var d struct {
		Schema string `json:"schema"`
		A, B   struct {
			Run   int64  `json:"run"`
			Cause string `json:"cause"`
		}
		Steps []struct {
			Step     string   `json:"step"`
			Compared bool     `json:"compared"`
			Why      string   `json:"why"`
			Same     bool     `json:"same"`
			Missing  []string `json:"missing"`
			Added    []string `json:"added"`
			Metadata []struct {
				File, Name string
				A, B       []string
				Toolchain  bool
			} `json:"metadata"`
			Text string `json:"text"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(resp.body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Schema != "pysmoke.diff/v1" || d.A.Run != first || d.A.Cause != "new" || d.B.Cause != "provenance" || len(d.Steps) != 4 {
		t.Fatalf("diff %s", resp.body)
	}
	steps := map[string]int{}
	for i, s := range d.Steps {
		steps[s.Step] = i
	}
	if s := d.Steps[steps["sdist"]]; s.Compared || s.Why != "a: sdist failed; b: sdist failed" {
		t.Errorf("sdist: compared=%v why %q", s.Compared, s.Why)
	}
	for _, step := range []string{"bdist", "2to3"} {
		if s := d.Steps[steps[step]]; s.Compared || s.Why != "a: no "+step+" step; b: no "+step+" step" {
			t.Errorf("%s: compared=%v why %q", step, s.Compared, s.Why)
		}
	}
	w := d.Steps[steps["wheel"]]
	if !w.Compared || w.Same || !reflect.DeepEqual(w.Added, []string{"pkg/extra.py"}) || len(w.Missing) != 0 {
		t.Errorf("wheel: %+v", w)
	}
	if len(w.Metadata) != 1 || w.Metadata[0].Name != "Requires-Dist" || w.Metadata[0].A == nil || len(w.Metadata[0].A) != 0 ||
		!reflect.DeepEqual(w.Metadata[0].B, []string{"six>=1.16"}) || w.Metadata[0].Toolchain {
		t.Errorf("wheel metadata: %+v", w.Metadata)
	}
	if !strings.Contains(w.Text, "pkg/extra.py") {
		t.Errorf("wheel text does not name the added module:\n%s", w.Text)
	}
	// A run against itself: the same.
	resp = get(t, srv.URL+"/api/v1/project/pkg/diff?a=1.0@3.12&b=1.0@3.12")
	if !strings.Contains(resp.body, `"same": true`) {
		t.Errorf("a run against itself:\n%s", resp.body)
	}

	// Bad and unknown references.
	for q, code := range map[string]int{
		"a=run-999&b=1.0@3.12":                  http.StatusNotFound,
		"a=1.0@3.11&b=1.0@3.12":                 http.StatusNotFound,
		"a=2.0@3.12&b=1.0@3.12":                 http.StatusNotFound,
		"a=1.0&b=1.0@3.12":                      http.StatusBadRequest,
		"b=1.0@3.12":                            http.StatusBadRequest,
		"a=run-x&b=1.0@3.12":                    http.StatusBadRequest,
		"a=..%2F..@3.12&b=1.0@3.12":             http.StatusBadRequest,
		"a=1.0@3.12&b=run-99999999999999999999": http.StatusBadRequest,
	} {
		if resp := get(t, srv.URL+"/api/v1/project/pkg/diff?"+q); resp.code != code {
			t.Errorf("diff?%s: %d, want %d (%s)", q, resp.code, code, resp.body)
		}
	}
	// Another project's run is not this one's.
	f.release("other", "other", "1.0", t0)
	if err := f.s.SaveCell(ctx, store.Cell{Project: "other", Version: "1.0", Python: "3.12", Status: outcome.Passed}, nil); err != nil {
		t.Fatal(err)
	}
	var other struct{ Runs []struct{ Run int64 } }
	json.Unmarshal([]byte(get(t, srv.URL+"/api/v1/project/other/runs/1.0/3.12").body), &other)
	if resp := get(t, srv.URL+"/api/v1/project/pkg/diff?a=run-"+itoa(other.Runs[0].Run)+"&b=1.0@3.12"); resp.code != http.StatusNotFound {
		t.Errorf("another project's run: %d %s", resp.code, resp.body)
	}
	if resp := get(t, srv.URL+"/project/pkg/run/"+itoa(other.Runs[0].Run)+"/wheel.log"); resp.code != http.StatusNotFound {
		t.Errorf("another project's run's log: %d %s", resp.code, resp.body)
	}
	if resp := get(t, srv.URL+"/api/v1/project/PKG/diff?a=1.0@3.12&b=1.0@3.12"); resp.code != http.StatusMovedPermanently ||
		resp.header.Get("Location") != "/api/v1/project/pkg/diff?a=1.0@3.12&b=1.0@3.12" {
		t.Errorf("unnormalised name: %d %q", resp.code, resp.header.Get("Location"))
	}
	// A dropped archive is said, not an error.
	p, _ := arts.Path(oldSum)
	if _, err := arts.Prune(func(s string) bool { return s != oldSum }, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := arts.Path(oldSum); err == nil {
		t.Fatalf("%s not pruned", p)
	}
	resp = get(t, srv.URL+"/api/v1/project/pkg/diff?a=run-"+itoa(first)+"&b=1.0@3.12")
	if resp.code != http.StatusOK || !strings.Contains(resp.body, "a: wheel: pkg-1.0-py3-none-any.whl not kept") {
		t.Errorf("diff with a dropped archive: %d %s", resp.code, resp.body)
	}
	// Without a history, no such pages.
	plain := serve(t, f.s, report.Options{BaseURL: base})
	if resp := get(t, plain.URL+"/api/v1/project/pkg/runs/1.0/3.12"); resp.code != http.StatusNotFound {
		t.Errorf("runs without a history: %d", resp.code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A cell against the previous release on its Python, and whether a
// failing cell's project ever passed there, by hand from the standard
// store: foo 1.0 passed on 2.7 and 3.12; 1.1 passed on 2.7 and failed on
// 3.12 (module-removed, in its test step); qux and quux have one release.
func TestChangeAndHistory(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base})
	var doc struct {
		Releases []struct {
			Version string `json:"version"`
			Cells   []struct {
				Python string `json:"python"`
				Change *struct {
					Against, Class, Step, Before, After string
				} `json:"change"`
				History string `json:"history"`
			} `json:"cells"`
		} `json:"releases"`
	}
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/api/v1/project/foo.json").body), &doc); err != nil {
		t.Fatal(err)
	}
	v11, v10 := doc.Releases[0], doc.Releases[1]
	if v11.Version != "1.1" || v10.Version != "1.0" {
		t.Fatalf("releases %s %s", v11.Version, v10.Version)
	}
	for _, c := range v10.Cells {
		if c.Change != nil || c.History != "" {
			t.Errorf("1.0 on %s: change %+v, history %q; the first release has neither", c.Python, c.Change, c.History)
		}
	}
	py27, py312 := v11.Cells[0], v11.Cells[1]
	if py27.Change == nil || py27.Change.Class != "same-pass" || py27.Change.Against != "1.0" || py27.History != "" {
		t.Errorf("1.1 on 2.7: %+v %q", py27.Change, py27.History)
	}
	if c := py312.Change; c == nil || c.Class != "regressed" || c.Against != "1.0" || c.Step != "test" ||
		c.Before != "passed" || c.After != "failed module-removed" || py312.History != "regression" {
		t.Errorf("1.1 on 3.12: %+v %q; want regressed since 1.0 in test, a regression", c, py312.History)
	}
	page := get(t, srv.URL+"/project/foo/").body
	for _, want := range []string{"regressed since 1.0 (test)", "passed here before"} {
		if !strings.Contains(page, want) {
			t.Errorf("the project page does not say %q", want)
		}
	}
	// A project that never passed: always-fail.
	g := newStore(t, "3.12")
	g.release("bad", "bad", "1.0", t0)
	g.cell("bad", "1.0", "3.12", outcome.Failed, outcome.ReasonSyntaxError, "print x")
	g.release("bad", "bad", "1.1", t0.Add(time.Hour))
	g.cell("bad", "1.1", "3.12", outcome.Failed, outcome.ReasonSyntaxError, "print x")
	srv2 := serve(t, g.s, report.Options{BaseURL: base})
	doc.Releases = nil
	json.Unmarshal([]byte(get(t, srv2.URL+"/api/v1/project/bad.json").body), &doc)
	if c := doc.Releases[0].Cells[0]; c.History != "always-fail" || c.Change == nil || c.Change.Class != "same-failure" {
		t.Errorf("bad 1.1: %+v %q; want same-failure, always-fail", c.Change, c.History)
	}
	if c := doc.Releases[1].Cells[0]; c.History != "always-fail" {
		t.Errorf("bad 1.0: history %q, want always-fail", c.History)
	}
}

// A failure being confirmed is not red yet: the badge is inconclusive,
// the cell says how far its reruns are, the JSON says so; once confirmed
// the badge is red.
func TestConfirmingIsNotRed(t *testing.T) {
	ctx := context.Background()
	f := newStore(t, "3.12")
	f.release("pkg", "pkg", "1.0", t0)
	f.cell("pkg", "1.0", "3.12", outcome.Failed, outcome.ReasonTestFailure, "assert 1 == 2")
	if err := f.s.SetConfirmation(ctx, "pkg", "1.0", "3.12", store.Confirmation{State: store.Confirming, Runs: 1, Of: 3}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, f.s, report.Options{BaseURL: base})
	if svg := get(t, srv.URL+"/badge/pkg.svg").body; strings.Contains(svg, "failing") || !strings.Contains(svg, "inconclusive") {
		t.Errorf("badge while confirming: %.300s", svg)
	}
	if page := get(t, srv.URL+"/project/pkg/").body; !strings.Contains(page, "confirming: 1 of 3 reruns") || strings.Contains(page, `<td class="s-fail">`) {
		t.Errorf("the page while confirming does not say so, or shows red")
	}
	if doc := get(t, srv.URL+"/api/v1/project/pkg.json").body; !strings.Contains(doc, `"confirmation": {`) || !strings.Contains(doc, `"state": "confirming"`) {
		t.Errorf("JSON while confirming:\n%s", doc)
	}
	if err := f.s.SetConfirmation(ctx, "pkg", "1.0", "3.12", store.Confirmation{State: store.Confirmed, Runs: 3, Of: 3}); err != nil {
		t.Fatal(err)
	}
	if svg := get(t, srv.URL+"/badge/pkg.svg").body; !strings.Contains(svg, "failing 3.12") {
		t.Errorf("badge once confirmed: %.300s", svg)
	}
}
