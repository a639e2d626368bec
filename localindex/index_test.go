package localindex

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// simpleDetail fetches a project's simple JSON page.
func simpleDetail(t *testing.T, srvURL, name string) (status int, doc simpleDetailDoc, header http.Header) {
	t.Helper()
	resp, body := get(t, srvURL+"/simple/"+name+"/", "Accept", mimeV1JSON)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return resp.StatusCode, doc, resp.Header
}

func TestNewCreatesDirAndScansExistingFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing", "index")
	ix, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Serial() != 0 {
		t.Fatalf("empty index has serial %d", ix.Serial())
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("New did not create %s: %v", dir, err)
	}

	// A directory filled before the index starts: files are dated by mtime
	// and registered oldest first; other names are ignored.
	old := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	name, data := tinySdist(t, "Alpha", "1.0", "Metadata-Version: 2.1\nName: Alpha\nVersion: 1.0\nSummary: first\n")
	write := func(name string, data []byte, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(name, data, old)
	write("alpha-1.0-py3-none-any.whl", []byte("not a zip"), old.Add(time.Hour))
	write("README.txt", []byte("hello"), old)
	write(".hidden-1.0.tar.gz", []byte("x"), old)

	ix, err = New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Serial(); got != 4 { // project, release, two files
		t.Errorf("serial %d, want 4", got)
	}
	srv := newTestServer(t, ix)
	status, doc, _ := simpleDetail(t, srv, "alpha")
	if status != http.StatusOK || len(doc.Files) != 2 {
		t.Fatalf("status %d, files %+v", status, doc.Files)
	}
	if got := doc.Files[0].UploadTime; got != "2025-01-02T03:04:05.000000Z" {
		t.Errorf("upload-time %s, want the file's mtime", got)
	}
	_, body := mustGet(t, http.StatusOK, srv+"/rss/updates.xml")
	if !strings.Contains(string(body), "<pubDate>Thu, 02 Jan 2025 03:04:05 GMT</pubDate>") {
		t.Errorf("pubDate is not the first file's mtime:\n%s", body)
	}
	if !strings.Contains(string(body), "<description>first</description>") {
		t.Errorf("summary not read from PKG-INFO:\n%s", body)
	}
	_, body = mustGet(t, http.StatusOK, srv+"/simple/")
	if strings.Contains(string(body), "README") || strings.Contains(string(body), "hidden") {
		t.Errorf("non-distribution files listed:\n%s", body)
	}
}

// newTestServer serves ix over HTTP for the test and returns its URL.
func newTestServer(t *testing.T, ix *Index) string {
	t.Helper()
	srv := httptestServer(ix)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAddFileSerials(t *testing.T) {
	clock := newTestClock()
	ix, srv := newServer(t, Options{Now: clock.Now})
	steps := []struct {
		name       string
		file       string
		wantSerial int64 // global serial after the step
	}{
		{"new project", "Demo_Pkg-1.0.tar.gz", 3}, // project, release, file
		{"new file of a release", "demo_pkg-1.0-py3-none-any.whl", 4},
		{"new release", "demo-pkg-1.1.tar.gz", 6}, // release, file
		{"another project", "other-0.1.tar.gz", 9},
		{"first project again", "demo.pkg-2.0.tar.gz", 11},
	}
	for _, s := range steps {
		before := ix.Serial()
		add(t, ix, s.file, []byte(s.file))
		if got := ix.Serial(); got != s.wantSerial || got <= before {
			t.Errorf("%s: serial %d, want %d", s.name, got, s.wantSerial)
		}
		clock.Advance(time.Minute)
	}

	status, doc, h := simpleDetail(t, srv.URL, "demo-pkg")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	if got := h.Get("X-PyPI-Last-Serial"); got != "11" {
		t.Errorf("project serial %s, want 11", got)
	}
	if doc.Meta.LastSerial != 11 || strings.Join(doc.Versions, " ") != "1.0 1.1 2.0" {
		t.Errorf("meta %+v versions %v", doc.Meta, doc.Versions)
	}
	_, doc, h = simpleDetail(t, srv.URL, "other")
	if got := h.Get("X-PyPI-Last-Serial"); got != "9" || doc.Meta.LastSerial != 9 {
		t.Errorf("other's serial %s / %d, want 9", got, doc.Meta.LastSerial)
	}
	resp, _ := mustGet(t, http.StatusOK, srv.URL+"/simple/")
	if got := resp.Header.Get("X-PyPI-Last-Serial"); got != "11" {
		t.Errorf("global serial header %s, want 11", got)
	}

	// PyPI never replaces a published file.
	if err := ix.AddFile("other-0.1.tar.gz", []byte("different")); !errors.Is(err, ErrFileExists) {
		t.Errorf("re-adding a file: %v, want ErrFileExists", err)
	}
	for _, bad := range []string{"README.txt", "../evil-1.0.tar.gz", "x/y-1.0.tar.gz", "noversion.tar.gz"} {
		if err := ix.AddFile(bad, []byte("x")); err == nil {
			t.Errorf("AddFile(%q) succeeded", bad)
		}
	}
	if ix.Serial() != 11 {
		t.Errorf("failed adds changed the serial to %d", ix.Serial())
	}
}

func TestRescan(t *testing.T) {
	ix, srv := newServer(t, Options{})
	dir := ix.dir
	put := func(name string, data []byte, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	rescan := func() int64 {
		t.Helper()
		before := ix.Serial()
		if err := ix.Rescan(); err != nil {
			t.Fatal(err)
		}
		return ix.Serial() - before
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	put("late-1.0.tar.gz", []byte("one"), t0)
	if d := rescan(); d != 3 {
		t.Errorf("new project: serial +%d, want +3", d)
	}
	if d := rescan(); d != 0 {
		t.Errorf("nothing changed: serial +%d", d)
	}
	put("late-1.0-py3-none-any.whl", []byte("two"), t0.Add(time.Minute))
	put("late-1.1.tar.gz", []byte("three"), t0.Add(2*time.Minute))
	if d := rescan(); d != 3 {
		t.Errorf("new file and new release: serial +%d, want +3", d)
	}
	_, doc, _ := simpleDetail(t, srv.URL, "late")
	if len(doc.Files) != 3 || strings.Join(doc.Versions, ",") != "1.0,1.1" {
		t.Fatalf("after adds: %+v", doc)
	}

	// Touching a file without changing it is no news.
	put("late-1.1.tar.gz", []byte("three"), t0.Add(3*time.Minute))
	if d := rescan(); d != 0 {
		t.Errorf("touched file: serial +%d, want 0", d)
	}
	// New bytes under the old name are a new file with a new URL.
	oldURL := doc.Files[2].URL
	put("late-1.1.tar.gz", []byte("three, rebuilt"), t0.Add(4*time.Minute))
	if d := rescan(); d != 2 {
		t.Errorf("replaced file: serial +%d, want +2 (removal, addition)", d)
	}
	mustGet(t, http.StatusNotFound, oldURL)
	_, doc, _ = simpleDetail(t, srv.URL, "late")
	if doc.Files[2].URL == oldURL || doc.Files[2].Hashes["sha256"] != sha256Hex([]byte("three, rebuilt")) {
		t.Errorf("replaced file still served as %s", doc.Files[2].URL)
	}
	_, body := mustGet(t, http.StatusOK, doc.Files[2].URL)
	if string(body) != "three, rebuilt" {
		t.Errorf("served %q", body)
	}

	// Rescan trusts size and mtime: same-size bytes with the same mtime are
	// not rehashed (that is what keeps polling a big directory cheap).
	put("late-1.0.tar.gz", []byte("ONE"), t0)
	if d := rescan(); d != 0 {
		t.Errorf("same size and mtime: serial +%d, want 0 (not rehashed)", d)
	}

	// Removals: file, then release, then project.
	os.Remove(filepath.Join(dir, "late-1.0-py3-none-any.whl"))
	if d := rescan(); d != 1 {
		t.Errorf("removed file: serial +%d, want +1", d)
	}
	os.Remove(filepath.Join(dir, "late-1.1.tar.gz"))
	if d := rescan(); d != 2 {
		t.Errorf("removed release: serial +%d, want +2", d)
	}
	if _, doc, _ = simpleDetail(t, srv.URL, "late"); strings.Join(doc.Versions, ",") != "1.0" {
		t.Errorf("versions after removal: %v", doc.Versions)
	}
	os.Remove(filepath.Join(dir, "late-1.0.tar.gz"))
	if d := rescan(); d != 3 {
		t.Errorf("removed project: serial +%d, want +3", d)
	}
	if status, _, _ := simpleDetail(t, srv.URL, "late"); status != http.StatusNotFound {
		t.Errorf("removed project: status %d", status)
	}
	mustGet(t, http.StatusNotFound, srv.URL+"/pypi/late/json")
}

func TestWatchPicksUpDroppedFiles(t *testing.T) {
	ix, srv := newServer(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		ix.Watch(ctx, 10*time.Millisecond)
		close(done)
	}()

	// Another process publishes the way AddFile does: write, then rename.
	src, wheel := buildSample(t, "smokegood", "1.0")
	for _, p := range []string{src, wheel} {
		data, _ := os.ReadFile(p)
		if err := writeFileAtomic(ix.dir, filepath.Base(p), data, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, doc, _ := simpleDetail(t, srv.URL, "smokegood")
		if status == http.StatusOK && len(doc.Files) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Watch did not pick the files up: status %d, %+v", status, doc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestYank(t *testing.T) {
	ix, srv := newServer(t, Options{})
	name, data := tinySdist(t, "yanky", "1.0", "Metadata-Version: 2.1\nName: yanky\nVersion: 1.0\n")
	add(t, ix, name, data)
	name, data = tinySdist(t, "yanky", "2.0", "Metadata-Version: 2.1\nName: yanky\nVersion: 2.0\n")
	add(t, ix, name, data)

	before := ix.Serial()
	if err := ix.Yank("Yanky", "2.0.0", `broken "build" <oops>`); err != nil {
		t.Fatal(err)
	}
	if ix.Serial() != before+1 {
		t.Errorf("yank: serial %d, want %d", ix.Serial(), before+1)
	}
	if err := ix.Yank("yanky", "2.0", `broken "build" <oops>`); err != nil || ix.Serial() != before+1 {
		t.Errorf("same yank again: %v, serial %d", err, ix.Serial())
	}
	for _, c := range []struct{ project, version string }{{"nope", "1.0"}, {"yanky", "3.0"}, {"yanky", "not a version"}} {
		if err := ix.Yank(c.project, c.version, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("Yank(%s, %s): %v, want ErrNotFound", c.project, c.version, err)
		}
	}

	_, body := mustGet(t, http.StatusOK, srv.URL+"/simple/yanky/")
	if !strings.Contains(string(body), `data-yanked="broken &#34;build&#34; &lt;oops&gt;">yanky-2.0.tar.gz</a>`) {
		t.Errorf("HTML detail lacks an escaped data-yanked:\n%s", body)
	}
	if strings.Count(string(body), "data-yanked") != 1 {
		t.Errorf("only 2.0 is yanked:\n%s", body)
	}
	_, doc, _ := simpleDetail(t, srv.URL, "yanky")
	if doc.Files[0].Yanked != false || doc.Files[1].Yanked != `broken "build" <oops>` {
		t.Errorf("JSON yanked: %v, %v", doc.Files[0].Yanked, doc.Files[1].Yanked)
	}

	// Yanked without a reason: an empty attribute, and true in JSON.
	if err := ix.Yank("yanky", "1.0", ""); err != nil {
		t.Fatal(err)
	}
	_, body = mustGet(t, http.StatusOK, srv.URL+"/simple/yanky/")
	if !strings.Contains(string(body), `data-yanked="">yanky-1.0.tar.gz`) {
		t.Errorf("HTML detail lacks an empty data-yanked:\n%s", body)
	}
	_, doc, _ = simpleDetail(t, srv.URL, "yanky")
	if doc.Files[0].Yanked != true {
		t.Errorf("JSON yanked without reason: %v", doc.Files[0].Yanked)
	}
}

// TestConcurrentUse is for the race detector: readers over HTTP while
// files are added, rescanned and yanked.
func TestConcurrentUse(t *testing.T) {
	ix, srv := newServer(t, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, p := range []string{"/simple/", "/simple/busy/", "/rss/updates.xml", "/rss/packages.xml", "/pypi/busy/json"} {
					resp, err := http.Get(srv.URL + p)
					if err == nil {
						resp.Body.Close()
					}
				}
			}
		})
	}
	for i := range 30 {
		name, data := tinySdist(t, "busy", "1."+itoa(i), "")
		add(t, ix, name, data)
		if err := ix.Rescan(); err != nil {
			t.Error(err)
		}
		if err := ix.Yank("busy", "1."+itoa(i), "r"); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if _, doc, _ := simpleDetail(t, srv.URL, "busy"); len(doc.Versions) != 30 {
		t.Errorf("%d versions, want 30", len(doc.Versions))
	}
}
