package localindex

// The HTTP side. Every page is rendered from the catalogue under the read
// lock and then written with an ETag that hashes the body, which gives
// correct conditional requests without tracking per-page versions.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// Media types of the simple API (PEP 691).
const (
	mimeHTML     = "text/html"
	mimeV1HTML   = "application/vnd.pypi.simple.v1+html"
	mimeV1JSON   = "application/vnd.pypi.simple.v1+json"
	apiVersion   = "1.4"
	jsonAPICache = "max-age=900"
)

// Feed item limits, as on pypi.org.
const (
	updatesLimit  = 100
	packagesLimit = 40
	projectLimit  = 40
)

// Handler returns the index's HTTP handler, serving GET and HEAD on:
//
//	/simple/                                   project list (HTML or JSON)
//	/simple/<name>/                            a project's files (HTML or JSON)
//	/pypi/<name>/json, /pypi/<name>/<ver>/json JSON API
//	/rss/updates.xml, /rss/packages.xml,
//	/rss/project/<name>/releases.xml           RSS feeds
//	/packages/<sha[0:2]>/<sha[2:4]>/<sha>/<f>  the files, unless FilesBaseURL is set
//
// As on pypi.org, a known project named other than in normalised form
// gets a 301 to the normalised path, an unknown one a 404; pages carry a
// strong ETag and answer a matching If-None-Match with 304. In
// StaticMirror mode only the HTML simple pages and the files are served.
// Requests are counted (Stats) and may be answered by injected faults
// (InjectFault).
func (ix *Index) Handler() http.Handler {
	return ix.instrument(ix.routes(ix.filesBase == ""))
}

// FilesHandler serves only the files, for a second address when
// FilesBaseURL is set (as files.pythonhosted.org serves pypi.org's files).
// It shares Handler's faults and counts.
func (ix *Index) FilesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /packages/{a}/{b}/{sha}/{filename}", ix.serveFile)
	return ix.instrument(mux)
}

// routes is the index's mux without faults or counting.
func (ix *Index) routes(withFiles bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/simple/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /simple/{$}", ix.serveSimpleIndex)
	mux.HandleFunc("GET /simple/{name}", ix.serveSimpleDetail)
	mux.HandleFunc("GET /simple/{name}/{$}", ix.serveSimpleDetail)
	if !ix.static {
		mux.HandleFunc("GET /pypi/{name}/json", ix.serveJSONAPI)
		mux.HandleFunc("GET /pypi/{name}/{version}/json", ix.serveJSONAPI)
		mux.HandleFunc("GET /rss/updates.xml", ix.serveUpdates)
		mux.HandleFunc("GET /rss/packages.xml", ix.servePackages)
		mux.HandleFunc("GET /rss/project/{name}/releases.xml", ix.serveProjectFeed)
	}
	if withFiles {
		mux.HandleFunc("GET /packages/{a}/{b}/{sha}/{filename}", ix.serveFile)
	}
	return mux
}

// baseURL is the prefix of absolute links in a response to r.
func (ix *Index) baseURL(r *http.Request) string {
	if ix.base != "" {
		return ix.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// filePath is the path of a file's content-addressed URL: it names the
// bytes, so it never changes while the file exists and never serves other
// bytes.
func filePath(f *file) string {
	return "/packages/" + f.sha256[0:2] + "/" + f.sha256[2:4] + "/" + f.sha256 + "/" + url.PathEscape(f.filename)
}

// fileURL is a file's absolute URL in responses whose links are absolute
// (the JSON API, and every page outside StaticMirror mode).
func (ix *Index) fileURL(base string, f *file) string {
	if ix.filesBase != "" {
		return ix.filesBase + filePath(f)
	}
	return base + filePath(f)
}

// pageFileURL is a file's link on a simple detail page: relative, as a
// static mirror writes it, in StaticMirror mode without a files address.
func (ix *Index) pageFileURL(base string, f *file) string {
	if ix.static && ix.filesBase == "" {
		return "../.." + filePath(f) // from /simple/<name>/
	}
	return ix.fileURL(base, f)
}

// respond writes body with a strong ETag (a hash of the body), or a bare
// 304 when the request's If-None-Match already names it. Headers the
// caller set (Vary, serial, Cache-Control) go out with either.
func respond(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 13.1.2):
// "*" or any listed tag equal to etag once a W/ prefix is dropped.
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// redirect sends a permanent redirect to path, keeping the query.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, path, http.StatusMovedPermanently)
}

// projectFor resolves the {name} path value under the read lock. It
// answers 404 for unknown or invalid names and 301 for a known project
// named other than in normalised form (to the path made by pathFor); it
// returns nil in both cases, having answered.
func (ix *Index) projectFor(w http.ResponseWriter, r *http.Request, pathFor func(norm string) string) *project {
	name := r.PathValue("name")
	if !dist.ValidName(name) {
		http.NotFound(w, r)
		return nil
	}
	norm := dist.Normalize(name)
	p := ix.projects[norm]
	if p == nil || (ix.static && name != norm) {
		// A static server has no folder under another spelling.
		http.NotFound(w, r)
		return nil
	}
	if name != norm || pathFor(norm) != r.URL.Path {
		redirect(w, r, pathFor(norm))
		return nil
	}
	return p
}

// --- simple API ---

// simpleFormat picks the simple API's format for r; a static mirror has
// only HTML.
func (ix *Index) simpleFormat(r *http.Request) (contentType string, asJSON bool) {
	if ix.static {
		return mimeHTML + "; charset=utf-8", false
	}
	return negotiate(r.Header.Values("Accept"))
}

// simpleHeaders sets the headers PyPI sends with simple pages; a static
// mirror's web server sends neither.
func (ix *Index) simpleHeaders(w http.ResponseWriter, serial int64) {
	if ix.static {
		return
	}
	h := w.Header()
	h.Set("Vary", "Accept")
	h.Set("X-PyPI-Last-Serial", strconv.FormatInt(serial, 10))
}

func (ix *Index) serveSimpleIndex(w http.ResponseWriter, r *http.Request) {
	ctype, asJSON := ix.simpleFormat(r)
	ix.mu.RLock()
	serial := ix.serial
	projects := make([]*project, 0, len(ix.projects))
	for _, p := range ix.projects {
		projects = append(projects, p)
	}
	slices.SortFunc(projects, func(a, b *project) int { return strings.Compare(a.name, b.name) })
	var body []byte
	if asJSON {
		body = simpleIndexJSON(serial, projects)
	} else {
		body = simpleIndexHTML(projects)
	}
	ix.mu.RUnlock()
	ix.simpleHeaders(w, serial)
	respond(w, r, ctype, body)
}

func (ix *Index) serveSimpleDetail(w http.ResponseWriter, r *http.Request) {
	ctype, asJSON := ix.simpleFormat(r)
	ix.mu.RLock()
	p := ix.projectFor(w, r, func(norm string) string { return "/simple/" + norm + "/" })
	if p == nil {
		ix.mu.RUnlock()
		return
	}
	base := ix.baseURL(r)
	var body []byte
	if asJSON {
		body = simpleDetailJSON(p, func(f *file) string { return ix.fileURL(base, f) })
	} else {
		body = simpleDetailHTML(p, func(f *file) string { return ix.pageFileURL(base, f) })
	}
	serial := p.lastSerial
	ix.mu.RUnlock()
	ix.simpleHeaders(w, serial)
	respond(w, r, ctype, body)
}

// negotiate picks the simple API's format from Accept headers: the offer
// with the highest q-value wins, a more specific match beats a wildcard
// at equal q, and at a tie HTML is preferred, so JSON is served only to a
// client that names it. No usable Accept header means HTML (PEP 691
// leaves the default to the server; pypi.org and old pips want HTML).
func negotiate(accept []string) (contentType string, asJSON bool) {
	offers := []struct {
		mime, respond string
		json          bool
	}{
		{mimeHTML, mimeHTML + "; charset=utf-8", false},
		{mimeV1HTML, mimeV1HTML, false},
		{"application/vnd.pypi.simple.latest+html", mimeV1HTML, false},
		{mimeV1JSON, mimeV1JSON, true},
		{"application/vnd.pypi.simple.latest+json", mimeV1JSON, true},
	}
	ranges := parseAccept(accept)
	best, bestQ, bestSpec := 0, 0.0, -1
	for i, o := range offers {
		q, spec := matchAccept(ranges, o.mime)
		if q > bestQ || (q == bestQ && spec > bestSpec && q > 0) {
			best, bestQ, bestSpec = i, q, spec
		}
	}
	if bestQ == 0 {
		best = 0
	}
	return offers[best].respond, offers[best].json
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, sub string
	q        float64
}

func parseAccept(headers []string) []mediaRange {
	var out []mediaRange
	for _, h := range headers {
		for _, el := range strings.Split(h, ",") {
			params := strings.Split(el, ";")
			typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
			if !ok || typ == "" || sub == "" {
				continue
			}
			mr := mediaRange{typ: strings.TrimSpace(typ), sub: strings.TrimSpace(sub), q: 1}
			for _, p := range params[1:] {
				k, v, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil || q < 0 || q > 1 {
						q = 0 // a malformed weight accepts nothing rather than everything
					}
					mr.q = q
				}
			}
			out = append(out, mr)
		}
	}
	return out
}

// matchAccept returns the q-value the ranges give mime, taken from the
// most specific matching range (RFC 9110 12.5.1), and that specificity
// (2 exact, 1 type/*, 0 */*, -1 no match).
func matchAccept(ranges []mediaRange, mime string) (q float64, spec int) {
	typ, sub, _ := strings.Cut(mime, "/")
	spec = -1
	for _, mr := range ranges {
		s := -1
		switch {
		case mr.typ == typ && mr.sub == sub:
			s = 2
		case mr.typ == typ && mr.sub == "*":
			s = 1
		case mr.typ == "*" && mr.sub == "*":
			s = 0
		}
		if s > spec {
			q, spec = mr.q, s
		}
	}
	return q, spec
}

// releasesSorted returns p's releases oldest version first (PEP 440).
func releasesSorted(p *project) []*release {
	rs := make([]*release, 0, len(p.releases))
	for _, r := range p.releases {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b *release) int {
		if c := dist.CompareVersions(a.version, b.version); c != 0 {
			return c
		}
		return strings.Compare(a.version, b.version)
	})
	return rs
}

func simpleIndexHTML(projects []*project) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n")
	b.WriteString(`    <meta name="pypi:repository-version" content="` + apiVersion + `">` + "\n")
	b.WriteString("    <title>Simple index</title>\n  </head>\n  <body>\n")
	for _, p := range projects {
		b.WriteString(`    <a href="/simple/` + p.name + `/">` + html.EscapeString(p.display) + "</a>\n")
	}
	b.WriteString("  </body>\n</html>\n")
	return []byte(b.String())
}

func simpleDetailHTML(p *project, link func(*file) string) []byte {
	var b strings.Builder
	title := html.EscapeString(p.display)
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n")
	b.WriteString(`    <meta name="pypi:repository-version" content="` + apiVersion + `">` + "\n")
	b.WriteString("    <title>Links for " + title + "</title>\n  </head>\n  <body>\n")
	b.WriteString("    <h1>Links for " + title + "</h1>\n")
	for _, r := range releasesSorted(p) {
		for _, f := range r.files {
			b.WriteString(`    <a href="` + html.EscapeString(link(f)+"#sha256="+f.sha256) + `"`)
			if f.meta.requiresPython != "" {
				b.WriteString(` data-requires-python="` + html.EscapeString(f.meta.requiresPython) + `"`)
			}
			if f.coreMetadata != nil {
				b.WriteString(` data-dist-info-metadata="sha256=` + f.coreMetadataSHA256 + `" data-core-metadata="sha256=` + f.coreMetadataSHA256 + `"`)
			}
			if r.yanked {
				b.WriteString(` data-yanked="` + html.EscapeString(r.yankedReason) + `"`)
			}
			b.WriteString(">" + html.EscapeString(f.filename) + "</a><br />\n")
		}
	}
	b.WriteString("  </body>\n</html>\n")
	b.WriteString("<!--SERIAL " + strconv.FormatInt(p.lastSerial, 10) + "-->\n")
	return []byte(b.String())
}

// The simple JSON documents. Fields are declared in key order because the
// index writes sorted keys (encoding/json keeps declaration order).

type simpleMeta struct {
	LastSerial int64  `json:"_last-serial"`
	APIVersion string `json:"api-version"`
}

type simpleIndexDoc struct {
	Meta     simpleMeta           `json:"meta"`
	Projects []simpleIndexProject `json:"projects"`
}

type simpleIndexProject struct {
	LastSerial int64  `json:"_last-serial"`
	Name       string `json:"name"`
}

type simpleDetailDoc struct {
	Files         []simpleFile  `json:"files"`
	Meta          simpleMeta    `json:"meta"`
	Name          string        `json:"name"`
	ProjectStatus projectStatus `json:"project-status"`
	Versions      []string      `json:"versions"`
}

type projectStatus struct {
	Status string `json:"status"`
}

type simpleFile struct {
	CoreMetadata         any               `json:"core-metadata"`           // false or {"sha256": hex}
	DataDistInfoMetadata any               `json:"data-dist-info-metadata"` // its older name (PEP 658 before PEP 714)
	Filename             string            `json:"filename"`
	Hashes               map[string]string `json:"hashes"`
	Provenance           *string           `json:"provenance"`
	RequiresPython       *string           `json:"requires-python"`
	Size                 int64             `json:"size"`
	UploadTime           string            `json:"upload-time"`
	URL                  string            `json:"url"`
	Yanked               any               `json:"yanked"` // false, true or the reason
}

func simpleIndexJSON(serial int64, projects []*project) []byte {
	doc := simpleIndexDoc{Meta: simpleMeta{serial, apiVersion}, Projects: []simpleIndexProject{}}
	for _, p := range projects {
		doc.Projects = append(doc.Projects, simpleIndexProject{p.lastSerial, p.display})
	}
	return marshalJSON(doc)
}

func simpleDetailJSON(p *project, link func(*file) string) []byte {
	doc := simpleDetailDoc{
		Files:         []simpleFile{},
		Meta:          simpleMeta{p.lastSerial, apiVersion},
		Name:          p.name,
		ProjectStatus: projectStatus{"active"},
		Versions:      []string{},
	}
	for _, r := range releasesSorted(p) {
		doc.Versions = append(doc.Versions, r.version)
		for _, f := range r.files {
			var yanked any = false
			switch {
			case r.yanked && r.yankedReason != "":
				yanked = r.yankedReason
			case r.yanked:
				yanked = true
			}
			var meta any = false
			if f.coreMetadata != nil {
				meta = map[string]string{"sha256": f.coreMetadataSHA256}
			}
			doc.Files = append(doc.Files, simpleFile{
				CoreMetadata:         meta,
				DataDistInfoMetadata: meta,
				Filename:             f.filename,
				Hashes:               map[string]string{"sha256": f.sha256},
				RequiresPython:       nullable(f.meta.requiresPython),
				Size:                 f.size,
				UploadTime:           isoTime(f.uploaded),
				URL:                  link(f),
				Yanked:               yanked,
			})
		}
	}
	return marshalJSON(doc)
}

// isoTime formats an upload time as PEP 700 and the JSON API do.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// nullable maps "" to JSON null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// --- files ---

func (ix *Index) serveFile(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if len(sha) != 64 || r.PathValue("a") != sha[0:2] || r.PathValue("b") != sha[2:4] {
		http.NotFound(w, r)
		return
	}
	if name, ok := strings.CutSuffix(r.PathValue("filename"), ".metadata"); ok {
		ix.serveCoreMetadata(w, r, sha, name)
		return
	}
	ix.mu.RLock()
	f := ix.byPath[sha+"/"+r.PathValue("filename")]
	var size int64
	var modTime, uploaded time.Time
	if f != nil {
		size, modTime, uploaded = f.size, f.modTime, f.uploaded
	}
	ix.mu.RUnlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	fh, err := os.Open(filepath.Join(ix.dir, f.filename))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer fh.Close()
	// A file changed on disk since it was hashed is not the file this URL
	// names; the next Rescan gives its new bytes a new URL.
	if info, err := fh.Stat(); err != nil || info.Size() != size || !info.ModTime().Equal(modTime) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+sha+`"`)
	h.Set("Cache-Control", "max-age=31536000, immutable")
	http.ServeContent(w, r, "", uploaded, fh)
}

// serveCoreMetadata serves a wheel's METADATA at its URL + ".metadata"
// (PEP 658); 404 for a file without one, as the index does.
func (ix *Index) serveCoreMetadata(w http.ResponseWriter, r *http.Request, sha, filename string) {
	ix.mu.RLock()
	f := ix.byPath[sha+"/"+filename]
	var body []byte
	var uploaded time.Time
	if f != nil {
		body, uploaded = f.coreMetadata, f.uploaded
	}
	ix.mu.RUnlock()
	if body == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "max-age=31536000, immutable")
	http.ServeContent(w, r, "", uploaded, bytes.NewReader(body))
}
