package report

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/store"
)

// The pages are html/template (everything package-controlled is escaped by
// context) with one small stylesheet inlined and allowed by its hash in the
// Content-Security-Policy, so a page needs no other request, runs no script
// and works without JavaScript.

//go:embed templates/*.html templates/style.css
var files embed.FS

var (
	css     = mustRead("templates/style.css")
	pageCSP = "default-src 'none'; img-src 'self'; style-src 'sha256-" + hashB64(css) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	pages   = map[string]*template.Template{
		"overview": parsePage("overview.html"),
		"project":  parsePage("project.html"),
		"diff":     parsePage("diff.html"),
		"python":   parsePage("python.html"),
		"log":      parsePage("log.html"),
	}
)

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hashB64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func parsePage(name string) *template.Template {
	return template.Must(template.New("base.html").Funcs(template.FuncMap{
		"shorten": outcome.Brief,
	}).ParseFS(files, "templates/base.html", "templates/"+name))
}

// page is the data of every page: the base template's fields and one
// page's view.
type page struct {
	Title    string
	CSS      template.CSS
	Prefix   string
	Overview []overviewRow
	Project  *projectView
	Diff     *diffView
	Python   *pythonView
	Log      *logView
	// PythonLinks are the interpreters' pages, on the overview; Pager its
	// pages.
	PythonLinks []pythonLink
	Pager       *pager
	// Service is the overview's line on the service ("" when not said);
	// Recent its recent changes (first page only).
	Service string
	Recent  []recentChange
}

type pythonLink struct{ Python, URL string }

// render executes a page into a buffer first, so that a template error is a
// clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.CSS, p.Prefix = template.CSS(css), h.prefix
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "base", p); err != nil {
		h.fail(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Security-Policy", pageCSP)
	serve(w, r, "text/html; charset=utf-8", "max-age=60", buf.Bytes())
}

type overviewRow struct {
	Name, URL         string
	Latest, LatestURL string
	Date, Note        string
	Summary           []summaryPart
	// Cells are the latest release's, one per recorded Python.
	Cells []overviewCell
	// Untested: a watched project with no release read from the index
	// yet; its row says so across Span columns.
	Untested         bool
	Span             int
	BadgeURL, RSSURL string
	AtomURL, JSONURL string
}

// overviewCell is one Python's cell of a project's latest release on the
// overview: its status, coloured, the reason in its title.
type overviewCell struct {
	Python, Status, Class, Title string
}

// overviewPage is how many projects one page of the overview lists.
const overviewPage = 100

// pager is the overview's page links.
type pager struct {
	Page, Pages        int
	PrevURL, NextURL   string
	First, Last, Total int
}

// pageURL is the overview's page n.
func (h *Handler) pageURL(n int) string {
	switch {
	case n == 1:
		return h.prefix + "/"
	case h.static:
		return h.prefix + "/page/" + strconv.Itoa(n) + "/"
	}
	return h.prefix + "/?page=" + strconv.Itoa(n)
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	names, err := h.src.Projects(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("projects: %w", err))
		return
	}
	if h.watched != nil {
		// The watched projects not read from the index yet are listed
		// too, as such.
		for _, n := range h.watched() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
	}
	// One page of projects, by name: ?page=N (from 1).
	pg := &pager{Page: 1, Pages: max(1, (len(names)+overviewPage-1)/overviewPage), Total: len(names)}
	if v := r.URL.Query().Get("page"); v != "" || r.URL.Query().Has("page") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || strconv.Itoa(n) != v {
			http.Error(w, "page: a number from 1", http.StatusBadRequest)
			return
		}
		if n > pg.Pages {
			notFound(w)
			return
		}
		pg.Page = n
	}
	from := (pg.Page - 1) * overviewPage
	names = names[from:min(len(names), from+overviewPage)]
	pg.First, pg.Last = from+1, from+len(names)
	if pg.Page > 1 {
		pg.PrevURL = h.pageURL(pg.Page - 1)
	}
	if pg.Page < pg.Pages {
		pg.NextURL = h.pageURL(pg.Page + 1)
	}
	pys, err := h.src.Pythons(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("pythons: %w", err))
		return
	}
	var rows []overviewRow
	for _, name := range names {
		rels, err := h.src.Releases(ctx, name)
		if err != nil {
			h.fail(w, r, fmt.Errorf("releases of %s: %w", name, err))
			return
		}
		if len(rels) == 0 {
			// Watched, and no release read yet (or removed since
			// Projects).
			rows = append(rows, overviewRow{Name: name, Untested: true, Span: len(pys) + 2})
			continue
		}
		rd, err := loadRelease(ctx, h.src, pys, rels[0])
		if err != nil {
			h.fail(w, r, err)
			return
		}
		row := overviewRow{
			Name: name, URL: h.prefix + projectPath(name),
			Latest: rels[0].Version, LatestURL: h.prefix + projectPath(name) + "#v" + url.PathEscape(rels[0].Version),
			Date: releaseDate(rels[0]), Note: releaseNote(rd),
			BadgeURL: h.prefix + badgePath(name), RSSURL: h.prefix + rssPath(name),
			AtomURL: h.prefix + atomPath(name), JSONURL: h.prefix + jsonPath(name),
		}
		row.Summary = summarize(pys, rd.Cells)
		for _, c := range rd.Cells {
			oc := overviewCell{Python: c.Python, Status: c.Status(), Class: statusClass(c.Status())}
			oc.Title = c.Python + ": " + oc.Status
			if c.Cell != nil && c.Cell.Reason != "" {
				oc.Title += " (" + c.Cell.Reason + ")"
			}
			row.Cells = append(row.Cells, oc)
		}
		rows = append(rows, row)
	}
	var links []pythonLink
	for _, py := range pys {
		links = append(links, pythonLink{py.Python, h.prefix + "/python/" + url.PathEscape(py.Python) + "/"})
	}
	var recent []recentChange
	if pg.Page == 1 {
		if recent, err = h.recentChanges(ctx); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.render(w, r, "overview", page{Title: "pysmoke", Overview: rows, PythonLinks: links, Pager: pg, Service: h.serviceNote(ctx), Recent: recent})
}

type projectView struct {
	Name, DisplayName string
	Pythons           []store.Python
	Releases          []releaseView
	BadgeURL, RSSURL  string
	AtomURL, JSONURL  string
	BadgeMarkdown     string
	// Timeline is the history chart; nil without releases.
	Timeline *timelineView
	// Actions are what administrators did to the project, newest first.
	Actions []actionView
}

type actionView struct {
	When, Actor, Action, Detail, Reason string
}

type releaseView struct {
	Version, Anchor, Date, Note string
	Flags                       []string
	Cells                       []cellView
	// Claims says what the release claims of its Pythons, Mismatches
	// where its results disagree.
	Claims     string
	Mismatches []string
}

type cellView struct {
	Python, Status, Class, Reason string
	FailStep, Detail              string
	Steps                         []stepView
	// DiffNote says how the cell's archives differ from the previous
	// Python's ("differs from 3.11"), DiffURL shows it; "" when they do
	// not, or cannot be compared.
	DiffNote, DiffURL string
	// ChangeNote says what changed since the previous release on this
	// Python ("regressed since 1.0"), History whether a failing cell's
	// project ever passed here; "" when nothing to say.
	ChangeNote, History string
	// Confirmation says where the reruns confirming a failure stand.
	Confirmation string
}

type stepView struct {
	Name, Status, Class, Reason, Detail, LogURL, Duration string
	ExitCode                                              int
	Truncated                                             bool
}

func (h *Handler) projectNoSlash(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("name")
	if !dist.ValidName(raw) {
		http.Error(w, "invalid project name", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, h.prefix+projectPath(dist.Normalize(raw)), http.StatusMovedPermanently)
}

func (h *Handler) project(w http.ResponseWriter, r *http.Request) {
	pd, ok := h.openProject(w, r, r.PathValue("name"), "", projectPath)
	if !ok {
		return
	}
	name := pd.Name
	v := &projectView{
		Name: pd.Name, DisplayName: pd.DisplayName, Pythons: pd.Pythons,
		BadgeURL: h.prefix + badgePath(name), RSSURL: h.prefix + rssPath(name),
		AtomURL: h.prefix + atomPath(name), JSONURL: h.prefix + jsonPath(name),
		BadgeMarkdown: fmt.Sprintf("[![smoke](%s)](%s)", h.base+badgePath(name), h.base+projectPath(name)),
	}
	for _, rd := range pd.Releases {
		rv := releaseView{Version: rd.Version, Anchor: "v" + rd.Version, Date: releaseDate(rd.Release), Note: releaseNote(rd)}
		if c := releaseClaims(pd.Pythons, rd.Cells); c != nil {
			rv.Claims, rv.Mismatches = claimsNote(c), c.Mismatches
		}
		if rd.Yanked {
			rv.Flags = append(rv.Flags, "yanked")
		}
		if rd.Prerelease {
			rv.Flags = append(rv.Flags, "pre-release")
		}
		for i, c := range rd.Cells {
			cv := cellView{Python: c.Python, Status: c.Status(), Class: statusClass(c.Status())}
			if i > 0 {
				cv.DiffNote, cv.DiffURL = h.differsFrom(name, rd.Cells[i-1], c)
			}
			cv.ChangeNote, cv.History = changeNote(c.Change), historyNote(c.History)
			if c.Cell != nil {
				cv.Confirmation = confirmationNote(c.Cell.Confirmation)
				if c.Cell.Confirmation.Unsettled() {
					cv.Class = classWarn // not red before it is confirmed
				}
			}
			if c.Cell != nil {
				cv.Reason = c.Cell.Reason
				if st := c.FailingStep(); st != nil {
					cv.FailStep, cv.Detail = st.Name, st.Detail
				}
				for _, st := range c.Cell.Steps {
					cv.Steps = append(cv.Steps, stepView{
						Name: st.Name, Status: string(st.Status), Class: statusClass(string(st.Status)),
						Reason: st.Reason, Detail: st.Detail, ExitCode: st.ExitCode, Truncated: st.LogTruncated,
						Duration: st.Duration.Round(100 * time.Millisecond).String(),
						LogURL:   h.prefix + logPagePath(name, rd.Version, c.Python, st.Name),
					})
				}
			}
			rv.Cells = append(rv.Cells, cv)
		}
		v.Releases = append(v.Releases, rv)
	}
	var pys []string
	for _, p := range pd.Pythons {
		pys = append(pys, p.Python)
	}
	v.Timeline = timeline(pys, v.Releases)
	if h.actions != nil {
		acts, err := h.actions.Actions(r.Context(), name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, a := range acts {
			v.Actions = append(v.Actions, actionView{When: a.At.UTC().Format("2006-01-02 15:04 UTC"), Actor: a.Actor,
				Action: a.Action, Detail: a.Detail, Reason: a.Reason})
		}
	}
	h.render(w, r, "project", page{Title: name + " - pysmoke", Project: v})
}

// differsFrom is the note and the diff page's URL of a cell whose
// archives differ from those of prev, the previous Python's cell of the
// release ("" when they do not, or the server keeps no artifacts).
func (h *Handler) differsFrom(name string, prev, c cellData) (note, link string) {
	if h.runsSrc == nil || h.arts == nil || prev.Cell == nil || c.Cell == nil {
		return "", ""
	}
	differs, toolchainOnly := difference(h.diffRuns(*prev.Cell, *c.Cell))
	if !differs {
		return "", ""
	}
	note = "differs from " + prev.Python
	if toolchainOnly {
		note += " (toolchain only)"
	}
	a, b := c.Cell.Version+"@"+prev.Python, c.Cell.Version+"@"+c.Python
	if h.static {
		return note, h.prefix + projectPath(name) + "diff/" + url.PathEscape(a) + "/" + url.PathEscape(b) + "/"
	}
	q := url.Values{"a": {a}, "b": {b}}
	return note, h.prefix + projectPath(name) + "diff?" + q.Encode()
}

// diffView is the diff page: the diff document and links.
type diffView struct {
	*diffJSON
	ProjectURL, JSONURL string
}

func (h *Handler) diffPage(w http.ResponseWriter, r *http.Request) {
	doc, _, ok := h.loadDiff(w, r, func(n string) string { return projectPath(n) + "diff" })
	if !ok {
		return
	}
	v := &diffView{diffJSON: doc, ProjectURL: h.prefix + projectPath(doc.Project),
		JSONURL: h.prefix + diffPath(doc.Project) + "?" + r.URL.RawQuery}
	if h.static {
		v.JSONURL = "" // a query a static copy cannot answer
	}
	title := fmt.Sprintf("%s %s on %s against %s on %s - pysmoke", doc.Project, doc.A.Version, doc.A.Python, doc.B.Version, doc.B.Python)
	h.render(w, r, "diff", page{Title: title, Diff: v})
}

// changeNote is what the project page says of a cell's change since the
// previous release: only a change ("" for the same pass or failure).
func changeNote(ch *cellChange) string {
	if ch == nil {
		return ""
	}
	switch ch.Verdict.Class {
	case regression.Regressed, regression.Fixed, regression.SpuriousRegressed, regression.SpuriousFixed:
		note := string(ch.Verdict.Class) + " since " + ch.Against
		if ch.Verdict.Step != "" {
			note += " (" + ch.Verdict.Step + ")"
		}
		return note
	}
	return ""
}

func confirmationNote(c store.Confirmation) string {
	switch c.State {
	case store.Confirming:
		return fmt.Sprintf("confirming: %d of %d reruns", c.Runs, c.Of)
	case store.Confirmed:
		return fmt.Sprintf("confirmed by %d reruns", c.Runs)
	case store.Flaky:
		return "flaky: a rerun did not reproduce it"
	}
	return ""
}

func historyNote(h string) string {
	switch h {
	case historyRegression:
		return "passed here before"
	case historyAlwaysFail:
		return "never passed here"
	}
	return ""
}

func releaseDate(r store.Release) string {
	t := r.UploadedAt
	if t.IsZero() {
		t = r.DiscoveredAt
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// releaseNote says why a release without cells will get none.
func releaseNote(rd releaseData) string {
	note := ""
	switch rd.State {
	case store.StateNoSdist:
		note = "no sdist"
	case store.StateBad:
		note = "unusable sdist"
	default:
		return ""
	}
	if rd.StateReason != "" {
		note += ": " + rd.StateReason
	}
	return note
}

// pythonView is one interpreter's page: every project's newest release
// tested on it.
type pythonView struct {
	Python, FullVersion string
	RSSURL, AtomURL     string
	Rows                []pythonRow
}

type pythonRow struct {
	Name, URL, Version    string
	Status, Reason, Class string
	// History is "regression" or "always-fail" for a failing cell;
	// Confirming says a failure is being confirmed, or was flaky.
	History, Confirming string
	rank                int
}

// python serves /python/3.13/: every project's status on one Python, the
// regressions first.
func (h *Handler) python(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	py := r.PathValue("python")
	if !pythonRE.MatchString(py) {
		notFound(w)
		return
	}
	pys, err := h.src.Pythons(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("pythons: %w", err))
		return
	}
	col := slices.IndexFunc(pys, func(p store.Python) bool { return p.Python == py })
	if col < 0 {
		notFound(w)
		return
	}
	names, err := h.src.Projects(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("projects: %w", err))
		return
	}
	view := &pythonView{Python: py, FullVersion: pys[col].FullVersion,
		RSSURL: h.prefix + "/feeds/python/" + url.PathEscape(py) + ".rss", AtomURL: h.prefix + "/feeds/python/" + url.PathEscape(py) + ".atom"}
	for _, name := range names {
		pd, err := loadProject(ctx, h.src, name)
		if errors.Is(err, errNoProject) {
			continue
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, rd := range pd.Releases {
			c := rd.Cells[col]
			if c.Cell == nil {
				continue
			}
			row := pythonRow{Name: name, URL: h.prefix + projectPath(name) + "#v" + url.PathEscape(rd.Version), Version: rd.Version,
				Status: string(c.Cell.Status), Reason: c.Cell.Reason, Class: statusClass(string(c.Cell.Status)), History: c.History, rank: 3}
			switch {
			case c.History == historyRegression:
				row.rank = 0
			case c.History == historyAlwaysFail:
				row.rank = 1
			case c.Cell.Confirmation.Unsettled():
				row.rank, row.Confirming = 2, string(c.Cell.Confirmation.State)
			}
			view.Rows = append(view.Rows, row)
			break // the newest release tested here speaks
		}
	}
	slices.SortStableFunc(view.Rows, func(a, b pythonRow) int { return a.rank - b.rank })
	h.render(w, r, "python", page{Title: "pysmoke: Python " + py, Python: view})
}
