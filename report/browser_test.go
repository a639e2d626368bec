package report_test

// The pages as a person sees them: a real headless Chromium (Debian's
// chromium, driven by chromedp) loads them from the real handler.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	// The history chart draws 1.1 on 3.12 red and 1.0 on 3.12 green.
	fills, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll("figure.timeline rect")].map(r => r.querySelector("title").textContent + " = " + getComputedStyle(r).fill).join("\n")`))
	must(err)
	for _, want := range []string{"1.1 on 3.12: failed (module-removed) = rgb(224, 93, 68)", "1.0 on 3.12: passed = rgb(123, 201, 95)"} {
		if !strings.Contains(fills, want) {
			t.Errorf("the history chart lacks %q:\n%s", want, fills)
		}
	}
	// The hostile step detail is text, never markup: the page runs no script.
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
	must(err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(err)
	if dir := os.Getenv("PYSMOKE_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "project-page.png"), shot, 0o644)
	}
	// The log link of the failing step leads to its log's page, and that
	// page's link to the whole log.
	testenv.Follow(t, ctx, `[id="v1.1"] td:nth-of-type(2) a[href$="test.html"]`)
	logText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("pre.log").innerText`))
	must(err)
	stepOutcome, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(p => p.innerText + " | " + getComputedStyle(p).backgroundColor)(document.querySelector("p.outcome"))`))
	must(err)
	if want := "failed (module-removed), exit 1, 2s | rgb(251, 220, 214)"; stepOutcome != want {
		t.Errorf("the log page says %q of the step, want %q", stepOutcome, want)
	}
	testenv.Follow(t, ctx, `a.whole`)
	wholeText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + "\n" + document.body.innerText`))
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
	if logText != `Traceback: <script>alert("x")</script>`+"\n" {
		t.Errorf("log page shows %q", logText)
	}
	if wholeText != "/project/foo/1.1/3.12/test.log\n"+`Traceback: <script>alert("x")</script>`+"\n" {
		t.Errorf("the whole log shows %q", wholeText)
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

// Hostile text from a package (its display name, a step's detail and
// reason) on every page and feed: in Chromium no page runs a script or
// carries an event handler, the text shows as text, and every feed parses
// with Chromium's XML parser (independent of the encoding/xml that
// gorilla/feeds writes with) and gives the text back as it was.
func TestHostileTextOnEveryPageAndFeed(t *testing.T) {
	ctx := browser(t)
	const (
		nameJS   = `<script>document.title="pwned-name"</script>`
		detailJS = `<img src=x onerror="document.title='pwned-detail'">]]></summary><script>x</script>`
	)
	f := newStore(t, "3.12", "3.13")
	f.release("evil", nameJS, "1.0", t0)
	f.cell("evil", "1.0", "3.12", outcome.Passed, "", "")
	f.cell("evil", "1.0", "3.13", outcome.Passed, "", "")
	f.release("evil", nameJS, "1.1", t0.Add(24*time.Hour))
	f.cell("evil", "1.1", "3.12", outcome.Passed, "", "")
	f.cell("evil", "1.1", "3.13", outcome.Failed, outcome.ReasonExitStatus, detailJS)
	srv := serve(t, f.s, report.Options{BaseURL: base, Runs: f.s, Recent: f.s})
	eval := func(expr string) string { t.Helper(); return testenv.Eval(t, ctx, expr) }
	for _, path := range []string{"/", "/?page=1", "/project/evil/", "/python/3.13/", "/python/3.12/", "/project/evil/1.1/3.13/test.log", "/project/evil/1.1/3.13/test.html"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+path), chromedp.WaitReady("body")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// Give an onerror handler the time to fire, were there one.
		time.Sleep(100 * time.Millisecond)
		got := eval(`document.title + " | scripts " + document.scripts.length + " | handlers " +
			[...document.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length`)
		if strings.Contains(got, "pwned") || !strings.Contains(got, "| scripts 0 | handlers 0") {
			t.Errorf("%s: %s", path, got)
		}
	}
	// The project page shows the package's text as it was.
	chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/project/evil/"), chromedp.WaitReady("body"))
	if text := eval(`document.body.innerText`); !strings.Contains(text, nameJS) || !strings.Contains(text, `<img src=x onerror=`) {
		t.Errorf("the project page does not show the hostile text as text:\n%s", text)
	}

	for _, path := range []string{"/feed/evil.rss", "/feed/evil.atom", "/feeds/all.rss", "/feeds/all.atom",
		"/feeds/python/3.13.rss", "/feeds/python/3.13.atom"} {
		r := get(t, srv.URL+path)
		if r.code != 200 {
			t.Fatalf("%s: %d", path, r.code)
		}
		body, _ := json.Marshal(r.body)
		// Each entry's title and text as the XML parser reads them.
		got := eval(fmt.Sprintf(`(() => {
			const doc = new DOMParser().parseFromString(%s, "application/xml");
			if (doc.querySelector("parsererror")) return "parse error: " + doc.querySelector("parsererror").textContent;
			const items = [...doc.querySelectorAll("item, entry")];
			// An entry's text is HTML, as a feed reader renders it.
			const html = i => new DOMParser().parseFromString((i.querySelector("description, summary, content") || {textContent: ""}).textContent, "text/html");
			const bad = h => h.scripts.length + [...h.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length;
			return items.length + " entries\n" + items.map(i => i.querySelector("title").textContent + " || " +
				html(i).body.textContent + " || scripts and handlers " + bad(html(i))).join("\n");
		})()`, body))
		if strings.HasPrefix(got, "parse error") || strings.HasPrefix(got, "0 entries") {
			t.Errorf("%s: %s\n%s", path, got, r.body)
			continue
		}
		// The failure on 3.13 is in every feed that concerns it, its
		// detail given back as the package wrote it.
		for _, line := range strings.Split(got, "\n")[1:] {
			if !strings.HasSuffix(line, " || scripts and handlers 0") {
				t.Errorf("%s: an entry's HTML holds a script or a handler: %s", path, line)
			}
		}
		if !strings.Contains(got, "3.13 passed -> failed") || !strings.Contains(got, detailJS) {
			t.Errorf("%s, as parsed:\n%s", path, got)
		}
	}
}
