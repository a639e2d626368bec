package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/allowlist"
	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/service"
	"github.com/pysmoke/pysmoke/store"
	"github.com/pysmoke/pysmoke/toolchain"
)

// world is a local index over HTTP of some projects (version 1.0 each), an
// allowlist of them, and a data folder: what a service is started on.
type world struct {
	t         *testing.T
	index     string
	allowPath string
	data      string
}

// newWorld publishes the projects (source folders) and allowlists them.
func newWorld(t *testing.T, projects map[string]string) *world {
	t.Helper()
	tmp := t.TempDir()
	indexDir := filepath.Join(tmp, "index")
	ix, err := localindex.New(indexDir, localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	allow := ""
	for name, src := range projects {
		if _, err := localindex.WriteSdist(indexDir, src, name, "1.0"); err != nil {
			t.Fatal(err)
		}
		allow += name + "\n"
	}
	if err := ix.Rescan(); err != nil {
		t.Fatal(err)
	}
	idx := httptest.NewServer(ix.Handler())
	t.Cleanup(idx.Close)
	w := &world{t: t, index: idx.URL + "/", allowPath: filepath.Join(tmp, "allow.txt"), data: filepath.Join(tmp, "data")}
	if err := os.WriteFile(w.allowPath, []byte(allow), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// runs returns a cell's runs (on 3.12), newest first.
func (w *world) runs(project string) []store.Cell {
	st, err := store.Open(context.Background(), filepath.Join(w.data, "pysmoke.db"))
	if err != nil {
		return nil
	}
	defer st.Close()
	rs, _ := st.Runs(context.Background(), project, "1.0", "3.12")
	return rs
}

// cell returns a project's cell on 3.12 as the store shows it.
func (w *world) cell(project string) store.Cell {
	st, err := store.Open(context.Background(), filepath.Join(w.data, "pysmoke.db"))
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	cs, _ := st.Cells(context.Background(), project, "1.0")
	for _, c := range cs {
		if c.Python == "3.12" {
			return c
		}
	}
	return store.Cell{}
}

// life runs a service (one worker, Python 3.12, the namespace sandbox,
// toolchain tc) on the world until done holds, then hands its reports to
// check before it stops.
func (w *world) life(tc *toolchain.Wheelhouse, done func() bool, check func(http.Handler)) {
	w.t.Helper()
	w.lifeWith(tc, nil, done, check)
}

// lifeWith is life with a look at what the service serves (its reports,
// health and metrics) before it runs.
func (w *world) lifeWith(tc *toolchain.Wheelhouse, before func(http.Handler), done func() bool, check func(http.Handler)) {
	t := w.t
	t.Helper()
	var logs testenv.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := w.service(ctx, tc, &logs, nil)
	defer svc.Close()
	if before != nil {
		before(svc.Routes())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Run(ctx, ln) }()
	deadline := time.Now().Add(4 * time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			cancel()
			<-stopped
			t.Fatalf("not in time; log:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	check(svc.Routes())
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("service: %v", err)
	}
}

// service makes a service on the world (one worker, Python 3.12, the
// namespace sandbox, toolchain tc), logging to logs, with tweak's changes
// to its options.
func (w *world) service(ctx context.Context, tc *toolchain.Wheelhouse, logs *testenv.LogBuffer, tweak func(*service.Options)) *service.Service {
	t := w.t
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, nil))
	allow, err := allowlist.NewWatcher(w.allowPath, log)
	if err != nil {
		t.Fatal(err)
	}
	opts := service.Options{IndexURL: w.index, DataDir: w.data, Allowlist: allow,
		Interpreters: []interpreter.Interpreter{testenv.Python(t, "3.12")}, Backend: sandboxtest.Namespace(t), Toolchain: tc,
		Workers: 1, Logger: log, Crawl: crawler.Options{Interval: 2 * time.Second, HintInterval: time.Second}, Worker: "w1"}
	if tweak != nil {
		tweak(&opts)
	}
	svc, err := service.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestToolchainChangeKeepsBothRuns runs smokegood 1.0 on 3.12, then starts
// the service again with the toolchain's key changed (as a rebuilt
// toolchain has): the cell runs again, as a run of cause provenance; both
// runs are kept, and the diff between their archives is served. The
// toolchain's files are the same, so the builds are too: every archive
// compares the same, after the normalisations it lists.
func TestToolchainChangeKeepsBothRuns(t *testing.T) {
	tc := testenv.Toolchain(t)
	w := newWorld(t, map[string]string{"smokegood": "../testdata/samples/smokegood"})
	complete := func(n int) func() bool {
		return func() bool { rs := w.runs("smokegood"); return len(rs) == n && rs[0].State == store.RunComplete }
	}
	var start map[string]float64
	w.lifeWith(tc, func(h http.Handler) { start = scrape(t, h) }, complete(1), func(h http.Handler) {
		checkMetricsMoved(t, start, queueSettles(t, h))
		// The overview says what the service is doing.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if body := rec.Body.String(); !strings.Contains(body, "; the index last read 20") ||
			!strings.Contains(body, "; worker w1 runs 1 at once (namespace sandbox).</p>") {
			t.Errorf("the overview's line on the service:\n%s", body)
		}
	})
	rebuilt := *tc
	rebuilt.Key = tc.Key + "-rebuilt"
	w.life(&rebuilt, complete(2), func(h http.Handler) {
		rs := w.runs("smokegood")
		if rs[0].Cause != outcome.CauseProvenance || !rs[0].Current || rs[1].Cause != outcome.CauseNew || rs[1].Current ||
			rs[0].ProvenanceDigest == rs[1].ProvenanceDigest {
			t.Fatalf("runs: %+v", rs)
		}
		for _, r := range rs {
			if r.Status != outcome.Passed {
				t.Errorf("run %d: %s %s", r.RunID, r.Status, r.Reason)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/project/smokegood/diff?a=run-"+strconv.FormatInt(rs[1].RunID, 10)+
			"&b=run-"+strconv.FormatInt(rs[0].RunID, 10), nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("diff: %d %s", rec.Code, rec.Body)
		}
		var d struct {
			A, B struct {
				Run   int64  `json:"run"`
				Cause string `json:"cause"`
			}
			Steps []struct {
				Step, Why, Text string
				Compared, Same  bool
				Normalised      []string
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.A.Run != rs[1].RunID || d.B.Run != rs[0].RunID || d.A.Cause != "new" || d.B.Cause != "provenance" || len(d.Steps) != 4 {
			t.Fatalf("diff: %s", rec.Body)
		}
		for _, s := range d.Steps {
			if !s.Compared || !s.Same || len(s.Normalised) == 0 {
				t.Errorf("%s: compared %v (%s), same %v, normalised %v:\n%s", s.Step, s.Compared, s.Why, s.Same, s.Normalised, s.Text)
			}
			t.Logf("%s, between the two toolchains' runs:\n%s", s.Step, s.Text)
		}
	})
}

// writeProject writes a project's files into a new folder.
func writeProject(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	testenv.WriteTree(t, dir, files)
	return dir
}

// project is a setuptools project whose one test runs body.
func project(t *testing.T, name, body string) string {
	return writeProject(t, map[string]string{
		"setup.py":            "from setuptools import setup\nsetup(name='" + name + "', version='1.0', packages=['" + name + "'])\n",
		name + "/__init__.py": "",
		"tests/test_it.py":    "import os, unittest\n\nclass T(unittest.TestCase):\n    def test_it(self):\n" + body,
	})
}

// A failure is rerun before it is told: a test that always fails is
// confirmed by three reruns (four runs, the failure red once confirmed);
// a test that fails on odd run ids (its runs are 1, 2, ...: the one
// project of its service) fails once and passes on the first rerun: flaky,
// not red.
func TestConfirmation(t *testing.T) {
	tc := testenv.Toolchain(t)
	failing := newWorld(t, map[string]string{"alwaysfails": project(t, "alwaysfails", "        self.fail('always')\n")})
	failing.life(tc, func() bool { return failing.cell("alwaysfails").Confirmation.State == store.Confirmed }, func(h http.Handler) {
		rs := failing.runs("alwaysfails")
		if len(rs) != 4 {
			t.Fatalf("%d runs, want the first and three reruns", len(rs))
		}
		for i, r := range rs {
			want := outcome.CauseConfirm
			if i == 3 {
				want = outcome.CauseNew
			}
			if r.Cause != want || r.Status != outcome.Failed || r.Reason != outcome.ReasonTestFailure {
				t.Errorf("run %d: %s %s %s, want %s failed test-failure", r.RunID, r.Cause, r.Status, r.Reason, want)
			}
		}
		if c := failing.cell("alwaysfails").Confirmation; c != (store.Confirmation{State: store.Confirmed, Runs: 3, Of: 3}) {
			t.Errorf("confirmation %+v", c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/badge/alwaysfails.svg", nil))
		if !bytesContain(rec.Body.Bytes(), "failing 3.12") {
			t.Errorf("badge once confirmed: %s", rec.Body)
		}
	})

	flaky := newWorld(t, map[string]string{"flaky": project(t, "flaky",
		"        self.assertEqual(int(os.environ['PYSMOKE_RUN_ID']) % 2, 0, 'fails on odd run ids')\n")})
	flaky.life(tc, func() bool { return flaky.cell("flaky").Confirmation.State == store.Flaky }, func(h http.Handler) {
		rs := flaky.runs("flaky")
		if len(rs) != 2 || rs[1].RunID != 1 || rs[1].Status != outcome.Failed || rs[0].Cause != outcome.CauseConfirm || rs[0].Status != outcome.Passed {
			t.Fatalf("runs %+v; want run 1 failed, run 2 (a confirmation) passed", rs)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/badge/flaky.svg", nil))
		if bytesContain(rec.Body.Bytes(), "failing") {
			t.Errorf("a flaky cell's badge says failing: %s", rec.Body)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/project/flaky/", nil))
		if !bytesContain(rec.Body.Bytes(), "flaky: a rerun did not reproduce it") {
			t.Errorf("the project page does not say flaky")
		}
	})
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }
