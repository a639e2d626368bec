package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
)

// The export writes the site as files: nginx serving them answers each
// URL with the live server's bytes and a suitable type; a second export
// writes nothing; a new result rewrites what shows it; a file the export
// did not write stays, and what it wrote but no longer produces goes.
func TestExportServedByNginx(t *testing.T) {
	ctx := context.Background()
	s := standard(t)
	live := serve(t, s, report.Options{BaseURL: base, Static: true})
	out := filepath.Join(t.TempDir(), "site")
	h := report.New(s, report.Options{BaseURL: base, Static: true})
	st, err := h.Export(ctx, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written < 30 || st.Unchanged != 0 || st.Removed != 0 {
		t.Errorf("first export: %+v", st)
	}
	for _, sk := range st.Skipped {
		t.Errorf("skipped: %s", sk)
	}
	site := testenv.Nginx(t, out)
	for _, c := range []struct{ path, typ string }{
		{"/", "text/html"},
		{"/project/foo/", "text/html"},
		{"/python/3.12/", "text/html"},
		{"/project/foo/1.1/3.12/test.log", "text/plain"},
		{"/badge/foo.svg", "image/svg+xml"},
		{"/badge/foo/3.12.svg", "image/svg+xml"},
		{"/badge/foo/pythons.svg", "image/svg+xml"},
		{"/badge/bar.svg", "image/svg+xml"},
		{"/feed/foo.rss", "application/rss+xml"},
		{"/feed/foo.atom", "application/atom+xml"},
		{"/feeds/all.atom", "application/atom+xml"},
		{"/feeds/python/3.12.rss", "application/rss+xml"},
		{"/api/v1/project/foo.json", "application/json"},
	} {
		want := get(t, live.URL+c.path)
		got := get(t, site+c.path)
		if got.code != 200 || got.body != want.body || !strings.HasPrefix(got.header.Get("Content-Type"), c.typ) {
			t.Errorf("%s from nginx: %d %s, same bytes as the server's: %v", c.path, got.code, got.header.Get("Content-Type"), got.body == want.body)
		}
	}

	// Again, nothing changed: nothing written.
	if st, err := h.Export(ctx, out, nil); err != nil || st.Written != 0 || st.Removed != 0 || st.Unchanged < 30 {
		t.Errorf("second export: %+v, %v", st, err)
	}
	// A file of someone else's in the folder, and a new result.
	os.WriteFile(filepath.Join(out, "robots.txt"), []byte("User-agent: *\n"), 0o644)
	before, _ := os.Stat(filepath.Join(out, "badge", "foo.svg"))
	time.Sleep(10 * time.Millisecond)
	f := fixture{t, s}
	f.release("newpkg", "newpkg", "0.1", t0)
	f.cell("newpkg", "0.1", "3.12", outcome.Passed, "", "")
	st, err = h.Export(ctx, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written == 0 || st.Removed != 0 {
		t.Errorf("after a new project: %+v", st)
	}
	if after, _ := os.Stat(filepath.Join(out, "badge", "foo.svg")); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("foo's badge was rewritten though it did not change")
	}
	if r := get(t, site+"/project/newpkg/"); r.code != 200 {
		t.Errorf("the new project's page: %d", r.code)
	}
	// A page the last export wrote and this one does not produce (a
	// project removed) goes; robots.txt, not the export's, stays.
	gone := filepath.Join(out, "project", "oldpkg", "index.html")
	os.MkdirAll(filepath.Dir(gone), 0o755)
	os.WriteFile(gone, []byte("old"), 0o644)
	manifest, _ := os.ReadFile(filepath.Join(out, ".pysmoke-export"))
	os.WriteFile(filepath.Join(out, ".pysmoke-export"), append(manifest, "project/oldpkg/index.html\n"...), 0o644)
	st, err = h.Export(ctx, out, nil)
	if err != nil || st.Removed != 1 || st.Written != 0 {
		t.Errorf("after a project went: %+v, %v", st, err)
	}
	if r := get(t, site+"/project/oldpkg/"); r.code != 404 {
		t.Errorf("the removed project's page: %d", r.code)
	}
	if _, err := os.Stat(filepath.Join(out, "robots.txt")); err != nil {
		t.Errorf("a file the export did not write was removed: %v", err)
	}

	// A manifest naming a file outside the folder is refused, and
	// nothing is removed.
	os.WriteFile(filepath.Join(out, ".pysmoke-export"), []byte("../outside\n"), 0o644)
	if _, err := h.Export(ctx, out, nil); err == nil || !strings.Contains(err.Error(), "not a file of the export") {
		t.Errorf("a hostile manifest: %v", err)
	}
}
