package report

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pysmoke/pysmoke/store"
)

// Schema names the version of the project JSON document (see SCHEMA.md).
const Schema = "pysmoke.project/v1"

// The JSON document of a project. Field names and meanings are fixed by
// SCHEMA.md; add fields, never change them, within one schema version.
type (
	projectJSON struct {
		Schema      string        `json:"schema"`
		Project     string        `json:"project"`
		DisplayName string        `json:"display_name"`
		URLs        projectURLs   `json:"urls"`
		Pythons     []pythonJSON  `json:"pythons"`
		Releases    []releaseJSON `json:"releases"`
	}
	projectURLs struct {
		HTML  string `json:"html"`
		Badge string `json:"badge"`
		RSS   string `json:"rss"`
		Atom  string `json:"atom"`
	}
	pythonJSON struct {
		Python      string `json:"python"`
		FullVersion string `json:"full_version"`
	}
	releaseJSON struct {
		Version      string `json:"version"`
		URL          string `json:"url"`
		State        string `json:"state"`
		StateReason  string `json:"state_reason"`
		Yanked       bool   `json:"yanked"`
		Prerelease   bool   `json:"prerelease"`
		UploadedAt   string `json:"uploaded_at,omitempty"`
		DiscoveredAt string `json:"discovered_at,omitempty"`
		// Claims: what the release claims of its Pythons against its
		// results; absent when it claims nothing (or is not run yet).
		Claims *claimsJSON `json:"claims,omitempty"`
		Cells  []cellJSON  `json:"cells"`
	}
	cellJSON struct {
		Python      string     `json:"python"`
		Status      string     `json:"status"`
		Reason      string     `json:"reason"`
		FailingStep string     `json:"failing_step,omitempty"`
		FullVersion string     `json:"full_version,omitempty"`
		Backend     string     `json:"backend,omitempty"`
		StartedAt   string     `json:"started_at,omitempty"`
		FinishedAt  string     `json:"finished_at,omitempty"`
		Steps       []stepJSON `json:"steps"`
		// Dependencies is added in v1 (SCHEMA.md): absent when none.
		Dependencies []dependencyJSON `json:"dependencies,omitempty"`
		// Run, Cause and RunsURL are added in v1: the cell's current run.
		Run     int64  `json:"run,omitempty"`
		Cause   string `json:"cause,omitempty"`
		RunsURL string `json:"runs_url,omitempty"`
		// Change and History are added in v1 (report/change.go).
		Change  *releaseChangeJSON `json:"change,omitempty"`
		History string             `json:"history,omitempty"`
		// Confirmation is added in v1.
		Confirmation *confirmationJSON `json:"confirmation,omitempty"`
	}
	confirmationJSON struct {
		State string `json:"state"`
		Runs  int    `json:"runs"`
		Of    int    `json:"of"`
	}
	releaseChangeJSON struct {
		Against string `json:"against"`
		Class   string `json:"class"`
		Step    string `json:"step,omitempty"`
		Before  string `json:"before,omitempty"`
		After   string `json:"after,omitempty"`
	}
	stepJSON struct {
		Name         string         `json:"name"`
		Status       string         `json:"status"`
		Reason       string         `json:"reason"`
		Detail       string         `json:"detail"`
		ExitCode     int            `json:"exit_code"`
		DurationMS   int64          `json:"duration_ms"`
		MemoryPeak   int64          `json:"memory_peak_bytes"`
		LogURL       string         `json:"log_url,omitempty"`
		LogBytes     int64          `json:"log_bytes"`
		LogTruncated bool           `json:"log_truncated"`
		Artifacts    []artifactJSON `json:"artifacts"`
	}
	artifactJSON struct {
		Path         string       `json:"path"`
		Size         int64        `json:"size"`
		SHA256       string       `json:"sha256"`
		Members      []memberJSON `json:"members,omitempty"`
		MembersError string       `json:"members_error,omitempty"`
	}
	memberJSON struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		Mode   string `json:"mode"`
		SHA256 string `json:"sha256,omitempty"`
		Link   string `json:"link,omitempty"`
	}
	dependencyJSON struct {
		Name     string `json:"name"`
		Version  string `json:"version"`
		Filename string `json:"filename"`
		SHA256   string `json:"sha256"`
	}
)

func artifactsJSON(arts []store.Artifact) []artifactJSON {
	out := []artifactJSON{}
	for _, a := range arts {
		aj := artifactJSON{Path: a.Path, Size: a.Size, SHA256: a.SHA256, MembersError: a.MembersError}
		for _, m := range a.Members {
			aj.Members = append(aj.Members, memberJSON{Path: m.Path, Size: m.Size, Mode: m.Mode, SHA256: m.SHA256, Link: m.Link})
		}
		out = append(out, aj)
	}
	return out
}

func dependenciesJSON(deps []store.Dependency) []dependencyJSON {
	var out []dependencyJSON
	for _, d := range deps {
		out = append(out, dependencyJSON{Name: d.Name, Version: d.Version, Filename: d.Filename, SHA256: d.SHA256})
	}
	return out
}

func stepJSONOf(st store.Step) stepJSON {
	return stepJSON{Name: st.Name, Status: string(st.Status), Reason: st.Reason, Detail: st.Detail,
		ExitCode: st.ExitCode, DurationMS: st.Duration.Milliseconds(), MemoryPeak: st.MemoryPeak,
		LogTruncated: st.LogTruncated, LogBytes: st.LogBytes, Artifacts: artifactsJSON(st.Artifacts)}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (h *Handler) projectJSON(pd *projectData) projectJSON {
	name := pd.Name
	doc := projectJSON{
		Schema: Schema, Project: name, DisplayName: pd.DisplayName,
		URLs: projectURLs{
			HTML: h.base + projectPath(name), Badge: h.base + badgePath(name),
			RSS: h.base + rssPath(name), Atom: h.base + atomPath(name),
		},
		Pythons:  []pythonJSON{},
		Releases: []releaseJSON{},
	}
	for _, p := range pd.Pythons {
		doc.Pythons = append(doc.Pythons, pythonJSON{Python: p.Python, FullVersion: p.FullVersion})
	}
	for _, rd := range pd.Releases {
		rj := releaseJSON{
			Version: rd.Version, URL: h.base + projectPath(name) + "#v" + url.PathEscape(rd.Version),
			State: rd.State, StateReason: rd.StateReason, Yanked: rd.Yanked, Prerelease: rd.Prerelease,
			UploadedAt: rfc3339(rd.UploadedAt), DiscoveredAt: rfc3339(rd.DiscoveredAt),
			Claims: releaseClaims(pd.Pythons, rd.Cells), Cells: []cellJSON{},
		}
		for _, c := range rd.Cells {
			cj := cellJSON{Python: c.Python, Status: c.Status(), Steps: []stepJSON{}}
			if c.Cell != nil {
				cj.Reason, cj.FullVersion, cj.Backend = c.Cell.Reason, c.Cell.FullVersion, c.Cell.Backend
				cj.StartedAt, cj.FinishedAt = rfc3339(c.Cell.StartedAt), rfc3339(c.Cell.FinishedAt)
				cj.Dependencies = dependenciesJSON(c.Cell.Dependencies)
				if st := c.FailingStep(); st != nil {
					cj.FailingStep = st.Name
				}
				cj.Run, cj.Cause, cj.History = c.Cell.RunID, string(c.Cell.Cause), c.History
				if cf := c.Cell.Confirmation; cf.State != store.NotConfirming {
					cj.Confirmation = &confirmationJSON{State: string(cf.State), Runs: cf.Runs, Of: cf.Of}
				}
				if ch := c.Change; ch != nil {
					cj.Change = &releaseChangeJSON{Against: ch.Against, Class: string(ch.Verdict.Class), Step: ch.Verdict.Step,
						Before: ch.Verdict.Before, After: ch.Verdict.After}
				}
				if h.runsSrc != nil {
					cj.RunsURL = h.base + runsPath(name, rd.Version, c.Python)
				}
				for _, st := range c.Cell.Steps {
					sj := stepJSONOf(st)
					sj.LogURL = h.base + logPath(name, rd.Version, c.Python, st.Name)
					cj.Steps = append(cj.Steps, sj)
				}
			}
			rj.Cells = append(rj.Cells, cj)
		}
		doc.Releases = append(doc.Releases, rj)
	}
	return doc
}

func (h *Handler) api(w http.ResponseWriter, r *http.Request) {
	pd, ok := h.openProject(w, r, r.PathValue("file"), ".json", jsonPath)
	if !ok {
		return
	}
	body, err := json.MarshalIndent(h.projectJSON(pd), "", "  ")
	if err != nil {
		h.fail(w, r, fmt.Errorf("encode %s: %w", pd.Name, err))
		return
	}
	serve(w, r, "application/json", "max-age=60", append(body, '\n'))
}

func (h *Handler) stepLog(w http.ResponseWriter, r *http.Request) {
	version, python := r.PathValue("version"), r.PathValue("python")
	step, isPage, ok := logFile(r.PathValue("file"))
	if !ok {
		notFound(w)
		return
	}
	if !versionRE.MatchString(version) || !pythonRE.MatchString(python) || !stepRE.MatchString(step) {
		http.Error(w, "invalid version, python or step", http.StatusBadRequest)
		return
	}
	name, ok := h.projectName(w, r, r.PathValue("name"), func(n string) string {
		if isPage {
			return logPagePath(n, version, python, step)
		}
		return logPath(n, version, python, step)
	})
	if !ok {
		return
	}
	log, err := h.src.StepLog(r.Context(), name, version, python, step, !isPage)
	var v *logView
	if isPage && err == nil {
		v = &logView{Project: name, ProjectURL: h.prefix + projectPath(name), Version: version, Python: python, Step: step,
			WholeURL: h.prefix + logPath(name, version, python, step)}
		var cells []store.Cell
		if cells, err = h.src.Cells(r.Context(), name, version); err == nil {
			for _, c := range cells {
				if c.Python == python {
					v.setStep(c.Steps)
				}
			}
		}
	}
	h.serveLog(w, r, log, err, v, "max-age=60")
}
