// Package report serves pysmoke's results over HTTP: an overview of every
// project, a release x Python matrix per project with links to each step's
// log, SVG badges, RSS and Atom feeds (built by package feeds) and a JSON
// document per project (schema in SCHEMA.md).
//
// URLs (all GET or HEAD; every path value is validated before use, because
// ServeMux decodes %2F inside one):
//
//	/                                          overview
//	/project/{name}/                           release x Python matrix
//	/project/{name}/{version}/{python}/{step}.log  one step's whole log, text/plain
//	/project/{name}/{version}/{python}/{step}.html its tail, on a page
//	/badge/{name}.svg                          flat SVG badge
//	/feed/{name}.rss, /feed/{name}.atom        feeds
//	/api/v1/project/{name}.json                everything the project page shows
//
// A name that is valid but not normalised ("Foo_Bar") is redirected (301)
// to the normalised URL ("foo-bar"); an invalid name, version, Python or
// step is a 400; a project without releases is a 404, except for badges:
// an unknown project's badge is a 200 with a grey "smoke | unknown" SVG, so
// that a README linking it before the first crawl shows an honest badge
// instead of a broken image (image proxies such as GitHub's may drop error
// responses).
//
// The columns of every view are the interpreters recorded with
// store.SetPythons; a stored cell of an interpreter no longer recorded is
// not shown anywhere (page, JSON, badge, feed).
//
// Reading the store fails as a 500 with the reason logged; the response
// never carries the error text.
package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/feeds"
	"github.com/pysmoke/pysmoke/store"
)

// Source is what the reports read from the store; *store.Store satisfies
// it. It includes feeds.Source.
type Source interface {
	feeds.Source
	// Projects returns the normalised names of all projects, sorted.
	Projects(ctx context.Context) ([]string, error)
	// StepLog returns one step's log (its tail; the whole too with whole
	// set); an error wrapping store.ErrNotFound when there is no such step.
	StepLog(ctx context.Context, project, version, python, step string, whole bool) (store.Log, error)
}

var _ Source = (*store.Store)(nil)

// ActionSource gives a project's administrative actions, newest first.
type ActionSource interface {
	Actions(ctx context.Context, project string) ([]store.Action, error)
}

var _ ActionSource = (*store.Store)(nil)

// RecentSource gives the cells' current runs, the latest finished first.
type RecentSource interface {
	RecentCells(ctx context.Context, limit int) ([]store.Cell, error)
}

var _ RecentSource = (*store.Store)(nil)

// Options configure a Handler.
type Options struct {
	// BaseURL is the external URL of the handler's root, e.g.
	// "https://pysmoke.example.org" or "https://example.org/pysmoke" (a
	// trailing slash is ignored). Feeds and JSON carry absolute links built
	// from it; HTML links and redirects use its path, so the handler can be
	// mounted under a prefix with http.StripPrefix. Default "": links are
	// root-relative, which suits tests and local use but not feed readers.
	BaseURL string
	// Logger receives the reasons of 500 responses. Default slog.Default().
	Logger *slog.Logger
	// Runs, when set, serves each cell's runs (report/history.go); the
	// store satisfies it. Artifacts, with Runs, serves diffs between the
	// archives of two runs.
	Runs      RunSource
	Artifacts ArtifactSource
	// State, when set, is the service's state for the overview (how much
	// waits to be built, the last crawl, the workers). The overview is
	// kept in memory like the other pages: what it says of the queue may
	// be up to memoryTTL old.
	State func(ctx context.Context) (ServiceState, error)
	// Watched, when set, lists the projects the service watches (its
	// allowlist, normalised names): the overview lists those with no
	// release read from the index yet as not tested yet.
	Watched func() []string
	// Actions, when set, gives the administrative actions taken on each
	// project (pysmoke rerun, remove), shown on its page; the store
	// satisfies it.
	Actions ActionSource
	// Recent, when set, gives the cells last finished, for the
	// overview's recent changes; the store satisfies it.
	Recent RecentSource
	// Static makes every link one a static copy of the site can serve
	// (Export): the overview's pages at /page/N/ instead of /?page=N, the
	// diffs at /project/NAME/diff/A/B/ instead of ?a=A&b=B, and no link to
	// a diff's JSON. The handler serves both forms either way.
	Static bool
}

// Handler serves the reports. Safe for concurrent use.
type Handler struct {
	src    Source
	base   string // absolute base URL, no trailing slash
	prefix string // path of base, no trailing slash
	log    *slog.Logger
	mux    *http.ServeMux
	// The history: nil when not served.
	runsSrc RunSource
	arts    ArtifactSource
	diffs   *diffCache
	// mem keeps rendered responses while the source's writes do not
	// change them; nil when the source does not count its writes.
	mem *memory
	// static: links without query strings (Options.Static).
	static  bool
	state   func(ctx context.Context) (ServiceState, error)
	watched func() []string
	actions ActionSource
	recent  RecentSource
}

// New returns a Handler reading from src.
func New(src Source, opts Options) *Handler {
	h := &Handler{src: src, base: strings.TrimRight(opts.BaseURL, "/"), log: opts.Logger, runsSrc: opts.Runs, arts: opts.Artifacts,
		diffs: newDiffCache(1024), static: opts.Static, state: opts.State, watched: opts.Watched,
		actions: opts.Actions, recent: opts.Recent}
	if h.log == nil {
		h.log = slog.Default()
	}
	if cc, ok := src.(ChangeCounter); ok {
		h.mem = &memory{count: cc, byKey: map[string]*remembered{}, maxBytes: maxMemoryBytes}
	}
	if u, err := url.Parse(h.base); err == nil {
		h.prefix = strings.TrimRight(u.Path, "/")
	} else {
		h.log.Warn("report: base URL does not parse; HTML links are root-relative", "base_url", opts.BaseURL, "err", err)
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.overview)
	// The query forms' twins in paths, which a static copy can hold.
	h.mux.HandleFunc("GET /page/{n}/{$}", func(w http.ResponseWriter, r *http.Request) {
		h.overview(w, withQuery(r, url.Values{"page": {r.PathValue("n")}}))
	})
	h.mux.HandleFunc("GET /project/{name}/diff/{a}/{b}/{$}", func(w http.ResponseWriter, r *http.Request) {
		h.diffPage(w, withQuery(r, url.Values{"a": {r.PathValue("a")}, "b": {r.PathValue("b")}}))
	})
	h.mux.HandleFunc("GET /project/{name}", h.projectNoSlash)
	h.mux.HandleFunc("GET /project/{name}/{$}", h.project)
	h.mux.HandleFunc("GET /project/{name}/{version}/{python}/{file}", h.stepLog)
	h.mux.HandleFunc("GET /badge/{file}", h.badge)
	h.mux.HandleFunc("GET /badge/{name}/{file}", h.pythonBadge)
	h.mux.HandleFunc("GET /feed/{file}", h.feed)
	h.mux.HandleFunc("GET /python/{python}/{$}", h.python)
	h.mux.HandleFunc("GET /python/{python}", func(w http.ResponseWriter, r *http.Request) {
		if py := r.PathValue("python"); pythonRE.MatchString(py) {
			http.Redirect(w, r, h.prefix+"/python/"+url.PathEscape(py)+"/", http.StatusMovedPermanently)
			return
		}
		notFound(w)
	})
	h.mux.HandleFunc("GET /feeds/{file}", h.changesFeed)
	h.mux.HandleFunc("GET /feeds/{python}/{file}", h.changesFeed)
	h.mux.HandleFunc("GET /api/v1/project/{file}", h.api)
	h.mux.HandleFunc("GET /api/v1/project/{name}/runs/{version}/{python}", h.runs)
	h.mux.HandleFunc("GET /api/v1/project/{name}/diff", h.diff)
	h.mux.HandleFunc("GET /project/{name}/diff", h.diffPage)
	h.mux.HandleFunc("GET /project/{name}/run/{id}/{file}", h.runLog)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !cleanPath(r.URL.Path) {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	if h.mem != nil && remembers(r) {
		h.mem.serveHTTP(w, r, h.mux)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// cleanPath reports whether a request's decoded path is one this server
// answers at all: no NUL nor other control character, and no "." or ".."
// segment, however encoded ("%2e%2e", "..%2f"). Every path value is
// checked by its own pattern besides; this refuses the classic traversal
// shapes before any handler sees them, rather than the mux's redirect to
// a cleaned path.
func cleanPath(p string) bool {
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// Strict patterns for the path values that are not project names (those
// follow dist.ValidName). Versions are PEP 440 shaped; Pythons are minor
// versions ("3.13", "3.13t"); steps are the runner's step names.
var (
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}$`)
	pythonRE  = regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{1,3}[a-z]?$`)
	stepRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// projectName checks a project name taken from the path. It answers 400
// for an invalid name and 301 to url(normalised) for a name that is not
// normalised, and then returns ok == false.
func (h *Handler) projectName(w http.ResponseWriter, r *http.Request, raw string, url func(name string) string) (string, bool) {
	if !dist.ValidName(raw) {
		http.Error(w, "invalid project name", http.StatusBadRequest)
		return "", false
	}
	name := dist.Normalize(raw)
	if name != raw {
		loc := h.prefix + url(name)
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, loc, http.StatusMovedPermanently)
		return "", false
	}
	return name, true
}

// open is how every handler of one project's document starts: raw, the
// path value, less the document's extension ext, is the project's name.
// A missing extension is a 404; projectName answers an invalid name or one
// not normalised (redirected to pathOf of the normalised name). ok is
// false when the handler has answered.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, raw, ext string, pathOf func(name string) string) (string, bool) {
	raw, ok := strings.CutSuffix(raw, ext)
	if !ok {
		notFound(w)
		return "", false
	}
	return h.projectName(w, r, raw, pathOf)
}

// openProject opens as open does and loads the project: one without a
// release is a 404, a store that cannot be read a 500.
func (h *Handler) openProject(w http.ResponseWriter, r *http.Request, raw, ext string, pathOf func(name string) string) (*projectData, bool) {
	name, ok := h.open(w, r, raw, ext, pathOf)
	if !ok {
		return nil, false
	}
	pd, err := loadProject(r.Context(), h.src, name)
	if errors.Is(err, errNoProject) {
		notFound(w)
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return pd, true
}

// feed serves a project's feed, which package feeds builds and renders.
func (h *Handler) feed(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	ext := path.Ext(file)
	if _, ok := feeds.Formats[ext]; !ok {
		notFound(w)
		return
	}
	name, ok := h.open(w, r, file, ext, func(n string) string { return "/feed/" + url.PathEscape(n) + ext })
	if !ok {
		return
	}
	body, ctype, err := feeds.Render(r.Context(), h.src, h.base, name, ext)
	if errors.Is(err, feeds.ErrNotFound) {
		notFound(w)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serve(w, r, ctype, "max-age=300", body)
}

// changesFeed serves the service-wide feed of changes (/feeds/all.rss)
// and an interpreter's (/feeds/python/3.13.atom).
func (h *Handler) changesFeed(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	ext := path.Ext(file)
	stem := strings.TrimSuffix(file, ext)
	python := ""
	if _, ok := feeds.Formats[ext]; !ok {
		notFound(w)
		return
	}
	switch {
	case r.PathValue("python") != "":
		if r.PathValue("python") != "python" || !pythonRE.MatchString(stem) {
			notFound(w)
			return
		}
		python = stem
	case stem != "all":
		notFound(w)
		return
	}
	body, ctype, err := feeds.RenderChanges(r.Context(), h.src, h.base, python, ext)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serve(w, r, ctype, "max-age=300", body)
}

// Paths of the pages, relative to the root; names are normalised and
// versions, Pythons and steps are escaped as path segments.
func projectPath(name string) string { return "/project/" + url.PathEscape(name) + "/" }
func badgePath(name string) string   { return "/badge/" + url.PathEscape(name) + ".svg" }
func rssPath(name string) string     { return "/feed/" + url.PathEscape(name) + ".rss" }
func atomPath(name string) string    { return "/feed/" + url.PathEscape(name) + ".atom" }
func jsonPath(name string) string    { return "/api/v1/project/" + url.PathEscape(name) + ".json" }
func logPath(name, version, python, step string) string {
	return projectPath(name) + url.PathEscape(version) + "/" + url.PathEscape(python) + "/" + url.PathEscape(step) + ".log"
}

// logPagePath is the page of a step's log, which links logPath.
func logPagePath(name, version, python, step string) string {
	return strings.TrimSuffix(logPath(name, version, python, step), ".log") + ".html"
}

// fail answers 500 and logs why.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelError
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug // the client went away
	}
	h.log.Log(r.Context(), level, "report: request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// withQuery is r with q as its query (the path forms of /?page=N and
// diff?a=&b=).
func withQuery(r *http.Request, q url.Values) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	return r2
}

func notFound(w http.ResponseWriter) { http.Error(w, "not found", http.StatusNotFound) }

// serve writes a complete body with a strong ETag, answering conditional
// requests (If-None-Match -> 304) and HEAD through http.ServeContent.
func serve(w http.ResponseWriter, r *http.Request, contentType, cacheControl string, body []byte) {
	sum := sha256.Sum256(body)
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
