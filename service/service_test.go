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

// TestToolchainChangeKeepsBothRuns runs smokegood 1.0 on 3.12, then starts
// the service again with the toolchain's key changed (as a rebuilt
// toolchain has): the cell runs again, as a run of cause provenance; both
// runs are kept, and the diff between their archives is served. The
// toolchain's files are the same, so the builds are too: every archive
// compares the same, after the normalisations it lists.
func TestToolchainChangeKeepsBothRuns(t *testing.T) {
	backend := sandboxtest.Namespace(t)
	py := testenv.Python(t, "3.12")
	tc := testenv.Toolchain(t)
	tmp := t.TempDir()
	indexDir := filepath.Join(tmp, "index")
	ix, err := localindex.New(indexDir, localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localindex.WriteSdist(indexDir, "../testdata/samples/smokegood", "smokegood", "1.0"); err != nil {
		t.Fatal(err)
	}
	if err := ix.Rescan(); err != nil {
		t.Fatal(err)
	}
	idx := httptest.NewServer(ix.Handler())
	defer idx.Close()
	allowPath := filepath.Join(tmp, "allow.txt")
	if err := os.WriteFile(allowPath, []byte("smokegood\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	runs := func() []store.Cell {
		st, err := store.Open(context.Background(), filepath.Join(data, "pysmoke.db"))
		if err != nil {
			return nil
		}
		defer st.Close()
		rs, _ := st.Runs(context.Background(), "smokegood", "1.0", "3.12")
		return rs
	}
	// life runs the service with toolchain w until done holds, then
	// hands its reports to check before it stops.
	life := func(w *toolchain.Wheelhouse, done func([]store.Cell) bool, check func(http.Handler)) {
		t.Helper()
		var logs testenv.LogBuffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		allow, err := allowlist.NewWatcher(allowPath, log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		svc, err := service.New(ctx, service.Options{IndexURL: idx.URL + "/", DataDir: data, Allowlist: allow,
			Interpreters: []interpreter.Interpreter{py}, Backend: backend, Toolchain: w, Workers: 1, Logger: log,
			Crawl: crawler.Options{Interval: 2 * time.Second, HintInterval: time.Second}, Worker: "w1"})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- svc.Run(ctx, ln) }()
		deadline := time.Now().Add(4 * time.Minute)
		for !done(runs()) {
			if time.Now().After(deadline) {
				cancel()
				<-stopped
				t.Fatalf("not in time; log:\n%s", logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		check(svc.Handler())
		cancel()
		if err := <-stopped; err != nil {
			t.Fatalf("service: %v", err)
		}
	}
	complete := func(n int) func([]store.Cell) bool {
		return func(rs []store.Cell) bool { return len(rs) == n && rs[0].State == store.RunComplete }
	}
	life(tc, complete(1), func(http.Handler) {})
	rebuilt := *tc
	rebuilt.Key = tc.Key + "-rebuilt"
	life(&rebuilt, complete(2), func(h http.Handler) {
		rs := runs()
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
		if d.A.Run != rs[1].RunID || d.B.Run != rs[0].RunID || d.A.Cause != "new" || d.B.Cause != "provenance" || len(d.Steps) != 3 {
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
