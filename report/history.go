package report

// A cell's runs, and the diffs between the artifacts of two runs, in the
// JSON API (SCHEMA.md): every run kept by the store, and diffs computed on
// request from the artifact store, along any axis (two Pythons of a
// release, two releases on a Python, two runs of one cell).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pysmoke/pysmoke/diff"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// RunSource is what the history reads besides Source; *store.Store
// satisfies it.
type RunSource interface {
	// Runs returns every run of a cell, newest first.
	Runs(ctx context.Context, project, version, python string) ([]store.Cell, error)
	// Run returns one run; an error wrapping store.ErrNotFound when there
	// is none.
	Run(ctx context.Context, id int64) (store.Cell, error)
	// RunStepLog returns the log of one step of a run; an error wrapping
	// store.ErrNotFound when there is none.
	RunStepLog(ctx context.Context, id int64, step string, whole bool) (store.Log, error)
}

// ArtifactSource finds the kept file of an artifact by its SHA-256 (the
// artifacts package's Store); an error when it is not kept.
type ArtifactSource interface {
	Path(sha256 string) (string, error)
}

// DiffSchema names the version of the diff JSON document.
const DiffSchema = "pysmoke.diff/v1"

type (
	runJSON struct {
		Run              int64      `json:"run"`
		Version          string     `json:"version"`
		Python           string     `json:"python"`
		Cause            string     `json:"cause"`
		Worker           string     `json:"worker"`
		State            string     `json:"state"`
		StateDetail      string     `json:"state_detail,omitempty"`
		Current          bool       `json:"current"`
		Status           string     `json:"status,omitempty"`
		Reason           string     `json:"reason,omitempty"`
		FullVersion      string     `json:"full_version,omitempty"`
		Backend          string     `json:"backend,omitempty"`
		StartedAt        string     `json:"started_at,omitempty"`
		FinishedAt       string     `json:"finished_at,omitempty"`
		ProvenanceDigest string     `json:"provenance_digest,omitempty"`
		Steps            []stepJSON `json:"steps"`
		// Dependencies are the run's resolved closure, part of what its
		// outcome depended on.
		Dependencies []dependencyJSON `json:"dependencies,omitempty"`
	}
	runsJSON struct {
		Schema  string    `json:"schema"`
		Project string    `json:"project"`
		Version string    `json:"version"`
		Python  string    `json:"python"`
		Runs    []runJSON `json:"runs"`
	}
	diffJSON struct {
		Schema  string         `json:"schema"`
		Project string         `json:"project"`
		A       runJSON        `json:"a"`
		B       runJSON        `json:"b"`
		Steps   []stepDiffJSON `json:"steps"`
	}
	stepDiffJSON struct {
		Step  string `json:"step"`
		FileA string `json:"file_a,omitempty"`
		FileB string `json:"file_b,omitempty"`
		// Compared is false, with Why, when a side has no kept archive.
		Compared   bool            `json:"compared"`
		Why        string          `json:"why,omitempty"`
		Same       bool            `json:"same"`
		Normalised []string        `json:"normalised"`
		Missing    []string        `json:"missing"`
		Added      []string        `json:"added"`
		Changed    []changeJSON    `json:"changed"`
		Metadata   []fieldDiffJSON `json:"metadata"`
		Toolchain  string          `json:"toolchain,omitempty"`
		// Text is the report as pysmoke run --diff prints it.
		Text string `json:"text"`
	}
	changeJSON struct {
		Path    string `json:"path"`
		SizeA   int64  `json:"size_a"`
		SizeB   int64  `json:"size_b"`
		SHA256A string `json:"sha256_a"`
		SHA256B string `json:"sha256_b"`
		Unified string `json:"unified,omitempty"`
		Why     string `json:"why,omitempty"`
	}
	fieldDiffJSON struct {
		File      string   `json:"file"`
		Name      string   `json:"name"`
		A         []string `json:"a"`
		B         []string `json:"b"`
		Toolchain bool     `json:"toolchain"`
	}
)

func (h *Handler) runJSON(name string, c store.Cell) runJSON {
	rj := runJSON{Run: c.RunID, Version: c.Version, Python: c.Python, Cause: string(c.Cause), Worker: c.Worker,
		State: string(c.State), StateDetail: c.StateDetail, Current: c.Current, Status: string(c.Status), Reason: c.Reason,
		FullVersion: c.FullVersion, Backend: c.Backend, StartedAt: rfc3339(c.StartedAt), FinishedAt: rfc3339(c.FinishedAt),
		ProvenanceDigest: c.ProvenanceDigest, Steps: []stepJSON{}}
	rj.Dependencies = dependenciesJSON(c.Dependencies)
	for _, st := range c.Steps {
		sj := stepJSONOf(st)
		sj.LogURL = h.base + runLogPath(name, c.RunID, st.Name)
		rj.Steps = append(rj.Steps, sj)
	}
	return rj
}

// runs serves every run of one cell, newest first.
func (h *Handler) runs(w http.ResponseWriter, r *http.Request) {
	version, python := r.PathValue("version"), r.PathValue("python")
	if !versionRE.MatchString(version) || !pythonRE.MatchString(python) {
		http.Error(w, "invalid version or python", http.StatusBadRequest)
		return
	}
	name, ok := h.projectName(w, r, r.PathValue("name"), func(n string) string { return runsPath(n, version, python) })
	if !ok || !h.hasRuns(w) {
		return
	}
	runs, err := h.runsSrc.Runs(r.Context(), name, version, python)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(runs) == 0 {
		notFound(w)
		return
	}
	doc := runsJSON{Schema: RunsSchema, Project: name, Version: version, Python: python, Runs: []runJSON{}}
	for _, c := range runs {
		doc.Runs = append(doc.Runs, h.runJSON(name, c))
	}
	h.serveJSON(w, r, doc, "max-age=60")
}

// runLog serves the log of one step of any run of the project.
func (h *Handler) runLog(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	step, isPage, ok := logFile(r.PathValue("file"))
	if !ok {
		notFound(w)
		return
	}
	if err != nil || id <= 0 || !stepRE.MatchString(step) {
		http.Error(w, "invalid run or step", http.StatusBadRequest)
		return
	}
	name, ok := h.projectName(w, r, r.PathValue("name"), func(n string) string {
		if isPage {
			return runLogPagePath(n, id, step)
		}
		return runLogPath(n, id, step)
	})
	if !ok || !h.hasRuns(w) {
		return
	}
	c, err := h.runsSrc.Run(r.Context(), id)
	if err == nil && c.Project != name {
		err = fmt.Errorf("run %d is not %s's: %w", id, name, store.ErrNotFound)
	}
	if err != nil {
		h.serveLog(w, r, store.Log{}, err, nil, "")
		return
	}
	log, err := h.runsSrc.RunStepLog(r.Context(), id, step, !isPage)
	var v *logView
	if isPage {
		v = &logView{Project: name, ProjectURL: h.prefix + projectPath(name), Version: c.Version, Python: c.Python, Step: step,
			Run: fmt.Sprintf("run %d", id), WholeURL: h.prefix + runLogPath(name, id, step)}
		v.setStep(c.Steps)
	}
	// A run's log never changes once the run has ended.
	h.serveLog(w, r, log, err, v, "max-age=86400")
}

// RunsSchema names the version of the runs JSON document.
const RunsSchema = "pysmoke.runs/v1"

func (h *Handler) hasRuns(w http.ResponseWriter) bool {
	if h.runsSrc == nil {
		http.Error(w, "this server keeps no history of runs", http.StatusNotFound)
		return false
	}
	return true
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request, doc any, cacheControl string) {
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		h.fail(w, r, fmt.Errorf("encode: %w", err))
		return
	}
	serve(w, r, "application/json", cacheControl, append(body, '\n'))
}

// A run as the diff's a and b name it: "run-ID" for one run, or
// "VERSION@PYTHON" for a cell's current run.
var runIDRE = regexp.MustCompile(`^run-([0-9]{1,18})$`)

// errBadRun is a run reference that names nothing readable: a 400.
var errBadRun = errors.New("a and b are each run-ID or VERSION@PYTHON")

func (h *Handler) resolveRun(ctx context.Context, project, ref string) (store.Cell, error) {
	if m := runIDRE.FindStringSubmatch(ref); m != nil {
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return store.Cell{}, errBadRun
		}
		c, err := h.runsSrc.Run(ctx, id)
		if err == nil && c.Project != project {
			return store.Cell{}, fmt.Errorf("run %d is not %s's: %w", id, project, store.ErrNotFound)
		}
		return c, err
	}
	version, python, ok := strings.Cut(ref, "@")
	if !ok || !versionRE.MatchString(version) || !pythonRE.MatchString(python) {
		return store.Cell{}, errBadRun
	}
	cells, err := h.src.Cells(ctx, project, version)
	if err != nil {
		return store.Cell{}, err
	}
	for _, c := range cells {
		if c.Python == python {
			return c, nil
		}
	}
	return store.Cell{}, fmt.Errorf("no run of %s %s on %s: %w", project, version, python, store.ErrNotFound)
}

// diff serves what differs between the archives two runs built.
func (h *Handler) diff(w http.ResponseWriter, r *http.Request) {
	doc, cache, ok := h.loadDiff(w, r, diffPath)
	if ok {
		h.serveJSON(w, r, doc, cache)
	}
}

// loadDiff answers the request for a diff's document as the JSON and the
// page share it: the project's name checked (pathOf makes the redirect of
// one not normalised), a and b resolved. ok is false when it has answered.
func (h *Handler) loadDiff(w http.ResponseWriter, r *http.Request, pathOf func(string) string) (doc *diffJSON, cache string, ok bool) {
	q := r.URL.Query()
	name, ok := h.projectName(w, r, r.PathValue("name"), pathOf)
	if !ok || !h.hasRuns(w) {
		return nil, "", false
	}
	if h.arts == nil {
		http.Error(w, "this server keeps no artifacts to compare", http.StatusNotFound)
		return nil, "", false
	}
	var sides [2]store.Cell
	for i, key := range []string{"a", "b"} {
		c, err := h.resolveRun(r.Context(), name, q.Get(key))
		switch {
		case errors.Is(err, errBadRun):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil, "", false
		case errors.Is(err, store.ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
			return nil, "", false
		case err != nil:
			h.fail(w, r, err)
			return nil, "", false
		}
		sides[i] = c
	}
	doc = &diffJSON{Schema: DiffSchema, Project: name, A: h.runJSON(name, sides[0]), B: h.runJSON(name, sides[1]),
		Steps: h.diffRuns(sides[0], sides[1])}
	// Two runs never change; a cell's current run does.
	cache = "max-age=60"
	if runIDRE.MatchString(q.Get("a")) && runIDRE.MatchString(q.Get("b")) {
		cache = "max-age=86400"
	}
	return doc, cache, true
}

// archiveSteps are the steps whose archives are compared.
var archiveSteps = []string{outcome.StepSdist, outcome.StepBdist, outcome.StepWheel, outcome.Step2to3}

// diffRuns compares, step by step, the archive each of two runs built.
func (h *Handler) diffRuns(a, b store.Cell) []stepDiffJSON {
	out := []stepDiffJSON{}
	for _, step := range archiveSteps {
		sa, shaA, whyA := keptArchive(h.arts, a, step)
		sb, shaB, whyB := keptArchive(h.arts, b, step)
		sd := stepDiffJSON{Step: step, FileA: sa.Name, FileB: sb.Name, Normalised: []string{}, Missing: []string{}, Added: []string{},
			Changed: []changeJSON{}, Metadata: []fieldDiffJSON{}}
		if whyA != "" || whyB != "" {
			var why []string
			for side, w := range map[string]string{"a": whyA, "b": whyB} {
				if w != "" {
					why = append(why, side+": "+w)
				}
			}
			sort.Strings(why)
			sd.Why = strings.Join(why, "; ")
			out = append(out, sd)
			continue
		}
		rep, err := h.diffs.archives(shaA, shaB, sa, sb)
		if err != nil {
			sd.Why = "cannot compare: " + err.Error()
			out = append(out, sd)
			continue
		}
		sd.Compared, sd.Same, sd.Toolchain, sd.Text = true, rep.Empty(), rep.Toolchain, rep.String()
		sd.Normalised = append(sd.Normalised, rep.Normalised...)
		sd.Missing = append(sd.Missing, rep.Missing...)
		sd.Added = append(sd.Added, rep.Added...)
		for _, c := range rep.Changed {
			sd.Changed = append(sd.Changed, changeJSON{Path: c.Path, SizeA: c.SizeA, SizeB: c.SizeB, SHA256A: c.SHA256A,
				SHA256B: c.SHA256B, Unified: c.Unified, Why: c.Why})
		}
		for _, f := range rep.Metadata {
			// A field absent on one side is an empty list, never null.
			sd.Metadata = append(sd.Metadata, fieldDiffJSON{File: f.File, Name: f.Name, A: append([]string{}, f.A...),
				B: append([]string{}, f.B...), Toolchain: f.Toolchain})
		}
		out = append(out, sd)
	}
	return out
}

// keptArchive is the diff side of the archive a run's step built and its
// SHA-256, or why there is none to compare.
func keptArchive(arts ArtifactSource, c store.Cell, step string) (diff.Side, string, string) {
	for _, st := range c.Steps {
		if st.Name != step {
			continue
		}
		if st.Status != outcome.Passed {
			return diff.Side{}, "", fmt.Sprintf("%s %s", step, st.Status)
		}
		if len(st.Artifacts) != 1 {
			return diff.Side{}, "", fmt.Sprintf("%s built %d files, not one", step, len(st.Artifacts))
		}
		a := st.Artifacts[0]
		p, err := arts.Path(a.SHA256)
		if err != nil {
			return diff.Side{}, "", fmt.Sprintf("%s: %s not kept (retention drops older releases' archives)", step, filepath.Base(a.Path))
		}
		side := diff.Side{Label: fmt.Sprintf("%s on %s (run %d)", c.Version, c.Python, c.RunID), Path: p, Name: filepath.Base(a.Path),
			Python: c.FullVersion, Project: c.Project, Version: c.Version}
		// A Python 2 wheel or bdist is compared with a Python 3 one
		// through its modules as the run's 2to3 step converted them.
		if (step == outcome.StepWheel || step == outcome.StepBdist) && strings.HasPrefix(c.FullVersion, "2.") {
			if tree, _, why := keptArchive(arts, c, outcome.Step2to3); why == "" {
				side.Converted = tree.Path
			}
		}
		return side, a.SHA256, ""
	}
	return diff.Side{}, "", "no " + step + " step"
}

// difference sums up a diff of two runs for the project page: whether any
// archive compared differs, and whether every difference follows from the
// toolchain (metadata fields it sets, nothing else).
func difference(steps []stepDiffJSON) (differs, toolchainOnly bool) {
	toolchainOnly = true
	for _, s := range steps {
		if !s.Compared || s.Same {
			continue
		}
		differs = true
		if len(s.Missing)+len(s.Added)+len(s.Changed) > 0 {
			toolchainOnly = false
		}
		for _, f := range s.Metadata {
			toolchainOnly = toolchainOnly && f.Toolchain
		}
	}
	return differs, differs && toolchainOnly
}

func runsPath(name, version, python string) string {
	return "/api/v1/project/" + url.PathEscape(name) + "/runs/" + url.PathEscape(version) + "/" + url.PathEscape(python)
}
func runLogPath(name string, id int64, step string) string {
	return projectPath(name) + "run/" + strconv.FormatInt(id, 10) + "/" + url.PathEscape(step) + ".log"
}

// runLogPagePath is the page of a run's step's log.
func runLogPagePath(name string, id int64, step string) string {
	return strings.TrimSuffix(runLogPath(name, id, step), ".log") + ".html"
}
func diffPath(name string) string { return "/api/v1/project/" + url.PathEscape(name) + "/diff" }
