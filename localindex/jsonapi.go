package localindex

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
)

// marshalJSON writes v as the index does: compact, with a trailing
// newline, and without HTML escaping (Python's json.dumps does not escape
// "<", so neither do we).
func marshalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("localindex: marshal: " + err.Error()) // our own types always marshal
	}
	return b.Bytes()
}

// The JSON API documents (warehouse's /pypi/<name>/json), fields in key
// order.

type apiDoc struct {
	Info            apiInfo              `json:"info"`
	LastSerial      int64                `json:"last_serial"`
	Ownership       apiOwnership         `json:"ownership"`
	Releases        map[string][]apiFile `json:"releases,omitempty"`
	URLs            []apiFile            `json:"urls"`
	Vulnerabilities []any                `json:"vulnerabilities"`
}

type apiOwnership struct {
	Organization *string `json:"organization"`
	Roles        []any   `json:"roles"`
}

type apiInfo struct {
	AuthorEmail    string            `json:"author_email"`
	Classifiers    []string          `json:"classifiers"`
	Name           string            `json:"name"`
	PackageURL     string            `json:"package_url"`
	ProjectURL     string            `json:"project_url"`
	ProjectURLs    map[string]string `json:"project_urls"`
	ReleaseURL     string            `json:"release_url"`
	RequiresDist   []string          `json:"requires_dist"`
	RequiresPython *string           `json:"requires_python"`
	Summary        string            `json:"summary"`
	Version        string            `json:"version"`
	Yanked         bool              `json:"yanked"`
	YankedReason   *string           `json:"yanked_reason"`
}

type apiFile struct {
	Digests           apiDigests `json:"digests"`
	Filename          string     `json:"filename"`
	MD5Digest         string     `json:"md5_digest"`
	PackageType       string     `json:"packagetype"`
	PythonVersion     string     `json:"python_version"`
	RequiresPython    *string    `json:"requires_python"`
	Size              int64      `json:"size"`
	UploadTime        string     `json:"upload_time"`
	UploadTimeISO8601 string     `json:"upload_time_iso_8601"`
	URL               string     `json:"url"`
	Yanked            bool       `json:"yanked"`
	YankedReason      *string    `json:"yanked_reason"`
}

type apiDigests struct {
	Blake2b256 string `json:"blake2b_256"`
	MD5        string `json:"md5"`
	SHA256     string `json:"sha256"`
}

// serveJSONAPI serves /pypi/<name>/json (the project and its latest
// release) and /pypi/<name>/<version>/json (one release).
func (ix *Index) serveJSONAPI(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	ix.mu.RLock()
	p := ix.projectFor(w, r, func(norm string) string {
		if version == "" {
			return "/pypi/" + norm + "/json"
		}
		return "/pypi/" + norm + "/" + version + "/json"
	})
	if p == nil {
		ix.mu.RUnlock()
		return
	}
	var rel *release
	if version == "" {
		rel = latestRelease(p)
	} else if v, err := dist.ParseVersion(version); err == nil {
		rel = p.releaseFor(v)
	}
	if rel == nil {
		ix.mu.RUnlock()
		http.NotFound(w, r)
		return
	}
	base := ix.baseURL(r)
	doc := apiDoc{
		Info:            releaseInfo(base, p, rel),
		LastSerial:      p.lastSerial,
		Ownership:       apiOwnership{Roles: []any{}},
		URLs:            ix.apiFiles(base, rel),
		Vulnerabilities: []any{},
	}
	if version == "" {
		// Deprecated on pypi.org but still served on the project URL only.
		doc.Releases = map[string][]apiFile{}
		for _, pr := range p.releases {
			doc.Releases[pr.version] = ix.apiFiles(base, pr)
		}
	}
	serial := p.lastSerial
	ix.mu.RUnlock()
	h := w.Header()
	h.Set("Cache-Control", jsonAPICache)
	h.Set("X-PyPI-Last-Serial", strconv.FormatInt(serial, 10))
	respond(w, r, "application/json", marshalJSON(doc))
}

// latestRelease is the release warehouse calls latest: non-yanked before
// yanked, final before pre-release, then the highest version. So it is the
// latest non-yanked final release when there is one, else the best of the
// rest.
func latestRelease(p *project) *release {
	var best *release
	var bestPre bool
	for _, r := range p.releases {
		pre := isPrerelease(r.version)
		if best == nil {
			best, bestPre = r, pre
			continue
		}
		if r.yanked != best.yanked {
			if !r.yanked {
				best, bestPre = r, pre
			}
			continue
		}
		if pre != bestPre {
			if !pre {
				best, bestPre = r, pre
			}
			continue
		}
		if c := dist.CompareVersions(r.version, best.version); c > 0 || (c == 0 && r.version > best.version) {
			best, bestPre = r, pre
		}
	}
	return best
}

func isPrerelease(version string) bool {
	v, err := dist.ParseVersion(version)
	return err == nil && v.IsPrerelease()
}

// releaseMeta is the release's metadata: for each field, the first file
// (in upload order) that has it.
func releaseMeta(r *release) metadata {
	files := slices.Clone(r.files)
	slices.SortStableFunc(files, func(a, b *file) int { return a.uploaded.Compare(b.uploaded) })
	var m metadata
	for _, f := range files {
		if m.name == "" {
			m.name = f.meta.name
		}
		if m.summary == "" {
			m.summary = f.meta.summary
		}
		if m.requiresPython == "" {
			m.requiresPython = f.meta.requiresPython
		}
		if m.authorEmail == "" {
			m.authorEmail = f.meta.authorEmail
		}
	}
	return m
}

func releaseInfo(base string, p *project, r *release) apiInfo {
	m := releaseMeta(r)
	info := apiInfo{
		AuthorEmail:    m.authorEmail,
		Classifiers:    []string{},
		Name:           p.display,
		PackageURL:     base + "/project/" + p.name + "/",
		ProjectURL:     base + "/project/" + p.name + "/",
		ReleaseURL:     base + "/project/" + p.name + "/" + r.version + "/",
		RequiresPython: nullable(m.requiresPython),
		Summary:        m.summary,
		Version:        r.version,
		Yanked:         r.yanked,
	}
	if r.yanked {
		info.YankedReason = nullable(r.yankedReason)
	}
	return info
}

func (ix *Index) apiFiles(base string, r *release) []apiFile {
	out := make([]apiFile, 0, len(r.files))
	for _, f := range r.files {
		af := apiFile{
			Digests:           apiDigests{Blake2b256: f.blake2b, MD5: f.md5, SHA256: f.sha256},
			Filename:          f.filename,
			MD5Digest:         f.md5,
			PackageType:       string(f.kind),
			PythonVersion:     pythonVersion(f),
			RequiresPython:    nullable(f.meta.requiresPython),
			Size:              f.size,
			UploadTime:        f.uploaded.UTC().Format("2006-01-02T15:04:05"),
			UploadTimeISO8601: isoTime(f.uploaded),
			URL:               ix.fileURL(base, f),
			Yanked:            r.yanked,
		}
		if r.yanked {
			af.YankedReason = nullable(r.yankedReason)
		}
		out = append(out, af)
	}
	return out
}

// pythonVersion is the JSON API's python_version: "source" for sdists,
// the python tag (e.g. "py2.py3") for wheels.
func pythonVersion(f *file) string {
	if f.kind != dist.Wheel {
		return "source"
	}
	parts := strings.Split(strings.TrimSuffix(f.filename, ".whl"), "-")
	return parts[len(parts)-3] // ParseFilename guaranteed 5 or 6 parts
}
