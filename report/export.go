package report

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// exportManifest lists, in an export's folder, the files the last export
// wrote: what a later export removes when it no longer produces it, and
// nothing else of the folder.
const exportManifest = ".pysmoke-export"

// ExportStats counts what an export did.
type ExportStats struct {
	// Written files were new or changed, Unchanged were left as they were,
	// Removed were written by the previous export and are gone now.
	Written, Unchanged, Removed int
	// Skipped are linked URLs that are not files of the site (a query, an
	// error, a redirect), each named once.
	Skipped []string
}

// Export writes the whole site as files under dir, for any web server to
// host: every page reachable from the overview, each project's badges
// (overall, per Python, the Pythons it works on), feeds, JSON and logs,
// at their URLs' paths (a folder's page as its index.html). The handler
// should be made with Options.Static, so that its links hold no query.
// A file is rewritten only when its bytes changed, through a temporary
// file and a rename: a server reading the folder meanwhile sees the old
// file or the new, never half of one. progress, when set, is called after
// each file with the count done and the count known so far.
//
// A web server must serve the .log files as text/plain, the .rss and
// .atom files as feeds and .json as JSON (nginx: a types block; see the
// README).
func (h *Handler) Export(ctx context.Context, dir string, progress func(done, known int)) (ExportStats, error) {
	var st ExportStats
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	previous, err := readManifest(filepath.Join(dir, exportManifest))
	if err != nil {
		return st, err
	}
	// The URLs no page links to, which READMEs do: each project's badge
	// per Python and its Pythons badge (and its overall badge, linked
	// from the overview too).
	queue := []string{h.prefix + "/"}
	names, err := h.src.Projects(ctx)
	if err != nil {
		return st, fmt.Errorf("export: projects: %w", err)
	}
	pys, err := h.src.Pythons(ctx)
	if err != nil {
		return st, fmt.Errorf("export: pythons: %w", err)
	}
	for _, n := range names {
		queue = append(queue, h.prefix+badgePath(n), h.prefix+"/badge/"+url.PathEscape(n)+"/pythons.svg")
		for _, py := range pys {
			queue = append(queue, h.prefix+"/badge/"+url.PathEscape(n)+"/"+url.PathEscape(py.Python)+".svg")
		}
	}
	seen := map[string]bool{}
	for _, u := range queue {
		seen[u] = true
	}
	written := map[string]bool{}
	for i := 0; i < len(queue); i++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		u := queue[i]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			st.Skipped = append(st.Skipped, u+" (not a URL)")
			continue
		}
		req.RequestURI = u
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(rec, req)
		if rec.status != http.StatusOK {
			st.Skipped = append(st.Skipped, fmt.Sprintf("%s (%d)", u, rec.status))
			continue
		}
		file, ok := exportFile(h.prefix, u)
		if !ok {
			st.Skipped = append(st.Skipped, u+" (not a file path)")
			continue
		}
		body := rec.body.Bytes()
		changed, err := writeIfChanged(filepath.Join(dir, filepath.FromSlash(file)), body)
		if err != nil {
			return st, err
		}
		written[file] = true
		if changed {
			st.Written++
		} else {
			st.Unchanged++
		}
		if strings.HasPrefix(rec.header.Get("Content-Type"), "text/html") {
			for _, link := range links(body) {
				l, ok := h.sameSite(u, link)
				if !ok || seen[l] {
					continue
				}
				seen[l] = true
				if strings.Contains(l, "?") {
					st.Skipped = append(st.Skipped, l+" (a query)")
					continue
				}
				queue = append(queue, l)
			}
		}
		if progress != nil {
			progress(i+1, len(queue))
		}
	}
	// What the last export wrote and this one did not is gone from the
	// site (a project removed, a page fewer).
	for _, f := range previous {
		if written[f] {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.Remove(p); err == nil {
			st.Removed++
		} else if !errors.Is(err, os.ErrNotExist) {
			return st, fmt.Errorf("export: %w", err)
		}
		// And its folders, once empty: a folder without its index.html
		// is an error page on most servers, not a 404.
		for d := filepath.Dir(p); d != filepath.Clean(dir); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	files := make([]string, 0, len(written))
	for f := range written {
		files = append(files, f)
	}
	slices.Sort(files)
	if _, err := writeIfChanged(filepath.Join(dir, exportManifest), []byte(strings.Join(files, "\n")+"\n")); err != nil {
		return st, err
	}
	return st, nil
}

// exportFile is the file of URL path u under the export's folder: the
// path without the prefix, decoded (a web server decodes it before it
// looks for the file), a folder's page as its index.html. ok is false
// for what cannot be a file: a query, a "." or ".." segment.
func exportFile(prefix, u string) (string, bool) {
	if strings.ContainsAny(u, "?#") || !strings.HasPrefix(u, prefix+"/") {
		return "", false
	}
	p, err := url.PathUnescape(strings.TrimPrefix(u, prefix))
	if err != nil || !cleanPath(p) || strings.Contains(p, "\\") {
		return "", false
	}
	if strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	return strings.TrimPrefix(p, "/"), true
}

// links are the href and src attributes of an HTML page.
func links(page []byte) []string {
	var out []string
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			for {
				k, v, more := z.TagAttr()
				if string(k) == "href" || string(k) == "src" {
					out = append(out, string(v))
				}
				if !more {
					break
				}
			}
		}
	}
}

// sameSite resolves link, found on page from, to a path of this site
// (under the prefix), without its fragment; ok is false for another
// site's link.
func (h *Handler) sameSite(from, link string) (string, bool) {
	base, err := url.Parse(from)
	if err != nil {
		return "", false
	}
	ref, err := url.Parse(link)
	if err != nil || ref.Scheme != "" || ref.Host != "" || ref.Opaque != "" {
		return "", false
	}
	abs := base.ResolveReference(ref)
	abs.Fragment = ""
	if abs.Path != h.prefix+"/" && !strings.HasPrefix(abs.Path, h.prefix+"/") {
		return "", false
	}
	if path.Clean(abs.Path) != strings.TrimSuffix(abs.Path, "/") && abs.Path != "/" {
		return "", false
	}
	return abs.RequestURI(), true
}

// writeIfChanged writes body to p unless p holds it already, through a
// temporary file renamed over p; it reports whether it wrote.
func writeIfChanged(p string, body []byte) (bool, error) {
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, body) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".export-*")
	if err != nil {
		return false, fmt.Errorf("export: %w", err)
	}
	_, werr := tmp.Write(body)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return false, fmt.Errorf("export: %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return false, fmt.Errorf("export: %w", err)
	}
	return true, nil
}

// readManifest reads the files the last export wrote (none when there was
// no export). A path that is not a clean relative one is refused: the
// folder may be shared, and what the export removes must be its own.
func readManifest(p string) ([]string, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<30))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			continue
		}
		if !filepath.IsLocal(l) || filepath.Clean(l) != l {
			return nil, fmt.Errorf("export: %s lists %q, not a file of the export", p, l)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
