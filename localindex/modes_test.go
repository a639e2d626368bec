package localindex

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestStaticMirror pins the static-mirror mode: what bandersnatch's output
// behind a plain web server looks like to a client.
func TestStaticMirror(t *testing.T) {
	fx := newFixture(t, Options{StaticMirror: true})
	page := fx.url + "/simple/foo-bar/"
	for _, accept := range []string{"", pipAccept, mimeV1JSON} {
		var h []string
		if accept != "" {
			h = []string{"Accept", accept}
		}
		resp, body := mustGet(t, http.StatusOK, page, h...)
		if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("Accept %q: Content-Type %q, want HTML whatever is asked", accept, got)
		}
		if resp.Header.Get("X-PyPI-Last-Serial") != "" || resp.Header.Get("Vary") != "" {
			t.Errorf("Accept %q: a static server sends no serial header and no Vary: %v", accept, resp.Header)
		}
		if !strings.HasSuffix(string(body), "</html>\n<!--SERIAL 6-->\n") {
			t.Errorf("the serial is only in the page, and it is missing:\n%s", body)
		}
	}

	// Relative links, resolved against the page's URL, give the files.
	_, body := mustGet(t, http.StatusOK, page)
	hrefs := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(string(body), -1)
	if len(hrefs) != 3 {
		t.Fatalf("%d links:\n%s", len(hrefs), body)
	}
	base, _ := url.Parse(page)
	for _, m := range hrefs {
		if !strings.HasPrefix(m[1], "../../packages/") {
			t.Errorf("link %s is not relative as a static mirror writes it", m[1])
		}
		u, err := base.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		sum := strings.TrimPrefix(u.Fragment, "sha256=")
		u.Fragment = ""
		_, data := mustGet(t, http.StatusOK, u.String())
		if sha256Hex(data) != sum {
			t.Errorf("%s: bytes do not match the fragment", u)
		}
	}

	// Conditional requests still work.
	resp, _ := mustGet(t, http.StatusOK, page)
	mustGet(t, http.StatusNotModified, page, "If-None-Match", resp.Header.Get("ETag"))

	for _, p := range []string{"/pypi/foo-bar/json", "/pypi/foo-bar/1.0/json", "/rss/updates.xml", "/rss/packages.xml",
		"/rss/project/foo-bar/releases.xml", "/simple/Foo.Bar/", "/simple/foo_bar/"} {
		mustGet(t, http.StatusNotFound, fx.url+p)
	}
	resp, _ = mustGet(t, http.StatusMovedPermanently, fx.url+"/simple/foo-bar")
	if loc := resp.Header.Get("Location"); loc != "/simple/foo-bar/" {
		t.Errorf("Location %q", loc)
	}
}

// TestFilesAddress pins files served from their own address, as pypi.org
// links files.pythonhosted.org.
func TestFilesAddress(t *testing.T) {
	var ix *Index
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ix.FilesHandler().ServeHTTP(w, r) }))
	t.Cleanup(files.Close)
	ix, srv := newServer(t, Options{FilesBaseURL: files.URL})
	sdist, _ := buildSample(t, "smokegood", "1.0")
	data := addPath(t, ix, sdist)
	sum := sha256Hex(data)
	path := "/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum + "/smokegood-1.0.tar.gz"
	if p, ok := ix.FilePath("smokegood-1.0.tar.gz"); !ok || p != path {
		t.Errorf("FilePath = %q, %v", p, ok)
	}

	_, doc, _ := simpleDetail(t, srv.URL, "smokegood")
	if doc.Files[0].URL != files.URL+path {
		t.Errorf("JSON page links %s, want the files address", doc.Files[0].URL)
	}
	_, body := mustGet(t, http.StatusOK, srv.URL+"/simple/smokegood/")
	if !strings.Contains(string(body), `href="`+files.URL+path+`#sha256=`+sum+`"`) {
		t.Errorf("HTML page does not link the files address:\n%s", body)
	}
	_, body = mustGet(t, http.StatusOK, srv.URL+"/pypi/smokegood/json")
	var api struct{ URLs []struct{ URL string } }
	json.Unmarshal(body, &api)
	if len(api.URLs) != 1 || api.URLs[0].URL != files.URL+path {
		t.Errorf("JSON API links %v", api.URLs)
	}
	_, got := mustGet(t, http.StatusOK, files.URL+path)
	if sha256Hex(got) != sum {
		t.Error("files address serves other bytes")
	}
	mustGet(t, http.StatusNotFound, srv.URL+path)                   // not from the index's address
	mustGet(t, http.StatusNotFound, files.URL+"/simple/smokegood/") // and no pages from the files'
}

func TestRemoveAndUnyank(t *testing.T) {
	ix, srv := newServer(t, Options{})
	for _, v := range []string{"1.0", "2.0"} {
		name, data := tinySdist(t, "gone", v, "")
		add(t, ix, name, data)
	}
	whl, data := tinyWheel(t, "gone", "2.0", "Metadata-Version: 2.1\nName: gone\nVersion: 2.0\n")
	add(t, ix, whl, data)
	filePath, _ := ix.FilePath(whl)

	before := ix.Serial()
	if err := ix.Remove(whl); err != nil {
		t.Fatal(err)
	}
	if ix.Serial() != before+1 {
		t.Errorf("removing a file: serial +%d, want +1", ix.Serial()-before)
	}
	mustGet(t, http.StatusNotFound, srv.URL+filePath)
	if err := ix.Remove("gone-1.0.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if ix.Serial() != before+3 {
		t.Errorf("removing a release's last file: serial +%d, want +3 (file, release)", ix.Serial()-before)
	}
	_, doc, _ := simpleDetail(t, srv.URL, "gone")
	if strings.Join(doc.Versions, ",") != "2.0" || len(doc.Files) != 1 {
		t.Errorf("after removals: versions %v, %d files", doc.Versions, len(doc.Files))
	}
	if err := ix.Remove("gone-1.0.tar.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	// AddFile after a removal works (the directory no longer has it).
	name, data := tinySdist(t, "gone", "1.0", "")
	add(t, ix, name, data)

	if err := ix.Yank("gone", "2.0", "oops"); err != nil {
		t.Fatal(err)
	}
	s := ix.Serial()
	if err := ix.Unyank("gone", "2.0"); err != nil || ix.Serial() != s+1 {
		t.Errorf("unyank: %v, serial +%d", err, ix.Serial()-s)
	}
	if err := ix.Unyank("gone", "2.0"); err != nil || ix.Serial() != s+1 {
		t.Errorf("unyank of a release not yanked: %v, serial %d", err, ix.Serial())
	}
	_, doc, _ = simpleDetail(t, srv.URL, "gone")
	for _, f := range doc.Files {
		if f.Yanked != false {
			t.Errorf("%s still yanked: %v", f.Filename, f.Yanked)
		}
	}
	if err := ix.Unyank("gone", "9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unyank of an unknown release: %v", err)
	}
}
