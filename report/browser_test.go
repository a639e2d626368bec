package report_test

// The pages as a person sees them: a real headless Chromium (Debian's
// chromium, driven by chromedp) loads them from the real handler.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

func browser(t *testing.T) context.Context { return testenv.Browser(t) }

func TestProjectPageInBrowser(t *testing.T) {
	ctx := browser(t)
	srv := serve(t, standard(t), report.Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/project/foo/"),
		chromedp.WaitVisible("table.matrix"),
	))
	columns, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("table.matrix thead th")].map(th => th.textContent.trim())`))
	must(err)
	failCell, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(() => { const td = document.getElementById("v1.1").querySelectorAll("td")[1];
			return td.className + " | " + td.textContent.replace(/\s+/g, " ").trim(); })()`))
	must(err)
	// The hostile step detail is text, never markup: the page runs no script.
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
	must(err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(err)
	if dir := os.Getenv("PYSMOKE_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "project-page.png"), shot, 0o644)
	}
	// The log link of the failing step leads to its log.
	must(chromedp.Do(ctx,
		chromedp.Click(`[id="v1.1"] td:nth-of-type(2) a[href$="test.log"]`),
		chromedp.WaitReady("body"),
	))
	logText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	must(err)
	// The badge renders as an image of the width it declares.
	must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")))
	badgeWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`new Promise(r => { const i = new Image(); i.onload = () => r(i.naturalWidth); i.onerror = () => r(0); i.src = "/badge/foo.svg"; })`,
		chromedp.EvalAwaitPromise))
	must(err)

	if strings.Join(columns, ",") != "Release,2.7,3.12" {
		t.Errorf("matrix columns %q, want Release,2.7,3.12", columns)
	}
	if !strings.Contains(failCell, "s-fail") || !strings.Contains(failCell, "module-removed") {
		t.Errorf("1.1 on 3.12 shows %q, want a red cell saying module-removed", failCell)
	}
	if scripts != 0 {
		t.Errorf("page holds %d scripts; the hostile detail was not escaped", scripts)
	}
	if !strings.Contains(logText, `Traceback: <script>alert("x")</script>`) {
		t.Errorf("log page shows %q", logText)
	}
	// foo's newest release fails on 3.12: the badge says so and the
	// browser draws it at the width the SVG declares.
	svg := get(t, srv.URL+"/badge/foo.svg").body
	if !strings.Contains(svg, "failing 3.12") || !strings.Contains(svg, fmt.Sprintf(`width="%d"`, badgeWidth)) || badgeWidth < 100 {
		t.Errorf("badge renders %d px wide; SVG: %.200s", badgeWidth, svg)
	}
}

// A cell whose archives differ from the previous Python's says so on the
// project page and links to the diff page, which shows what differs; the
// package's text in it (member contents, paths, metadata) is text, never
// markup.
func TestDiffPageInBrowser(t *testing.T) {
	ctx := browser(t)
	f := newStore(t, "3.11", "3.12")
	f.release("pkg", "pkg", "1.0", t0)
	arts, err := artifacts.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	same, sameSize := wheel(t, arts, "", nil)
	other, otherSize := wheel(t, arts, "Requires-Dist: six>=1.16", map[string]string{
		"pkg/extra.py":    "X = 1\n",
		"pkg/__init__.py": "VERSION = '1.0'\nBANNER = '<script>alert(1)</script>'\n",
	})
	for _, c := range []struct {
		py   string
		sum  string
		size int64
	}{{"3.11", same, sameSize}, {"3.12", other, otherSize}} {
		if err := f.s.SaveCell(context.Background(), store.Cell{Project: "pkg", Version: "1.0", Python: c.py, FullVersion: c.py + ".1",
			Status: outcome.Passed, StartedAt: t0, FinishedAt: t0,
			Steps: []store.Step{{Name: "wheel", Status: outcome.Passed,
				Artifacts: []store.Artifact{{Path: "pkg-1.0-py3-none-any.whl", Size: c.size, SHA256: c.sum}}}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv := serve(t, f.s, report.Options{Runs: f.s, Artifacts: arts})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/project/pkg/"), chromedp.WaitVisible("table.matrix")))
	notes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("td")].map(td => (td.querySelector("a.differs") || {textContent: "-"}).textContent)`))
	must(err)
	must(chromedp.Do(ctx, chromedp.Click(`a.differs`), chromedp.WaitVisible("section#step-wheel")))
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("step-wheel").innerText`))
	must(err)
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
	must(err)
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search`))
	must(err)
	if dir := os.Getenv("PYSMOKE_SCREENSHOTS"); dir != "" {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		must(err)
		os.WriteFile(filepath.Join(dir, "diff-page.png"), shot, 0o644)
	}

	if strings.Join(notes, "|") != "-|differs from 3.11" {
		t.Errorf("notes %q, want none on 3.11 and \"differs from 3.11\" on 3.12", notes)
	}
	if loc != "/project/pkg/diff?a=1.0%403.11&b=1.0%403.12" {
		t.Errorf("the note links to %s", loc)
	}
	for _, want := range []string{"Only in b", "pkg/extra.py", "Requires-Dist", "six>=1.16", "absent",
		"pkg/__init__.py", "+BANNER = '<script>alert(1)</script>'"} {
		if !strings.Contains(text, want) {
			t.Errorf("the diff page's wheel section does not say %q:\n%s", want, text)
		}
	}
	if scripts != 0 {
		t.Errorf("the diff page holds %d scripts", scripts)
	}
}
