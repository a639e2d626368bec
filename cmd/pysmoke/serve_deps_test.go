package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// TestServeRerunsOnDependencyRelease: app 1.0 requires tinydep, on the
// index as a wheel, 1.0. Once app's cell is in, tinydep 1.1 appears on the
// index: the service runs the cell again, as a run of cause dependency
// that installed tinydep 1.1, and keeps the first run, with tinydep 1.0.
// Then pysmoke rerun asks for a run of cause admin.
func TestServeRerunsOnDependencyRelease(t *testing.T) {
	sandboxtest.Namespace(t)
	tmp := t.TempDir()
	app, dep, indexDir := filepath.Join(tmp, "app"), filepath.Join(tmp, "tinydep"), filepath.Join(tmp, "index")
	testenv.WriteTree(t, app, map[string]string{
		"setup.py":        "from setuptools import setup\nsetup(name='app', version='1.0', packages=['app'], install_requires=['tinydep>=1.0'])\n",
		"app/__init__.py": "import tinydep\n",
		"tests/test_app.py": "import unittest, tinydep\n\nclass T(unittest.TestCase):\n    def test_dep(self):\n" +
			"        print('tinydep', tinydep.VERSION)\n        self.assertIn(tinydep.VERSION, ('1.0', '1.1'))\n",
	})
	writeDep := func(version string) {
		t.Helper()
		testenv.WriteTree(t, dep, map[string]string{
			"setup.py":            "from setuptools import setup\nsetup(name='tinydep', version='" + version + "', packages=['tinydep'])\n",
			"tinydep/__init__.py": "VERSION = '" + version + "'\n",
		})
		if _, err := localindex.WriteWheel(indexDir, dep, "tinydep", version); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := localindex.New(indexDir, localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localindex.WriteSdist(indexDir, app, "app", "1.0"); err != nil {
		t.Fatal(err)
	}
	writeDep("1.0")
	if err := ix.Rescan(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	defer srv.Close()
	allow := filepath.Join(tmp, "allow.txt")
	if err := os.WriteFile(allow, []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testenv.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"serve", "--index", srv.URL + "/", "--allowlist", allow, "--data", data,
			"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python", "3.12", "--workers", "1",
			"--interval", "2s", "--hint-interval", "1s"}, &logs, &logs)
	}()
	// runs returns app 1.0's runs on 3.12, newest first.
	runs := func() []store.Cell {
		st, err := store.Open(ctx, filepath.Join(data, "pysmoke.db"))
		if err != nil {
			return nil
		}
		defer st.Close()
		rs, _ := st.Runs(ctx, "app", "1.0", "3.12")
		return rs
	}
	waitFor := func(what string, ok func([]store.Cell) bool) []store.Cell {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for {
			if rs := runs(); ok(rs) {
				return rs
			}
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("%s: not in time; log:\n%s", what, tail(logs.String(), 30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	used := func(c store.Cell) string {
		for _, d := range c.Dependencies {
			if d.Name == "tinydep" {
				return d.Version
			}
		}
		return ""
	}
	first := waitFor("the first run", func(rs []store.Cell) bool { return len(rs) == 1 && rs[0].State == store.RunComplete })[0]
	if first.Status != outcome.Passed || first.Cause != outcome.CauseNew || used(first) != "1.0" {
		t.Fatalf("first run: %s %s, cause %s, tinydep %q; want passed with tinydep 1.0", first.Status, first.Reason, first.Cause, used(first))
	}
	// tinydep 1.1 is released.
	writeDep("1.1")
	if err := ix.Rescan(); err != nil {
		t.Fatal(err)
	}
	rs := waitFor("the rerun", func(rs []store.Cell) bool { return len(rs) == 2 && rs[0].State == store.RunComplete })
	rerun := rs[0]
	if rerun.Cause != outcome.CauseDependency || !rerun.Current || rerun.Status != outcome.Passed || used(rerun) != "1.1" {
		t.Errorf("rerun: %s %s, cause %s, current %v, tinydep %q; want a current passed run of cause dependency with tinydep 1.1",
			rerun.Status, rerun.Reason, rerun.Cause, rerun.Current, used(rerun))
	}
	if rs[1].RunID != first.RunID || rs[1].Current || used(rs[1]) != "1.0" {
		t.Errorf("the first run, kept: %+v", rs[1])
	}
	// No further rerun: the closure now holds the newest.
	time.Sleep(5 * time.Second)
	if n := len(runs()); n != 2 {
		t.Errorf("%d runs after the rerun settled, want 2; log:\n%s", n, tail(logs.String(), 30))
	}

	// An administrator asks for another run, while the service runs.
	var out, errOut testenv.LogBuffer
	if err := dispatch(ctx, []string{"rerun", "--data", data, "--reason", "checking the dependency's fix", "--by", "ana@ci", "App==1.0"}, &out, &errOut); err != nil || out.String() != "queued app 1.0 on 3.12\n" {
		t.Fatalf("rerun: %v, %q %q", err, out.String(), errOut.String())
	}
	rs = waitFor("the administrator's rerun", func(rs []store.Cell) bool { return len(rs) == 3 && rs[0].State == store.RunComplete })
	if rs[0].Cause != outcome.CauseAdmin || !rs[0].Current || rs[1].Cause != outcome.CauseDependency || rs[1].Current {
		t.Errorf("after pysmoke rerun: runs %s %v, %s %v", rs[0].Cause, rs[0].Current, rs[1].Cause, rs[1].Current)
	}
	for _, bad := range [][]string{
		{"rerun", "--data", data, "--reason", "r", "nosuch"},
		{"rerun", "--data", data, "--reason", "r", "app", "9.9"},
		{"rerun", "--data", data, "--reason", "r", "app==9.9"},
		{"rerun", "--data", data, "--reason", "r", "--python", "3.99", "app"},
		{"rerun", "--data", filepath.Join(tmp, "nowhere"), "--reason", "r", "app"},
		{"rerun", "--data", data, "--reason", "r", "not a name!"},
		{"rerun", "--data", data, "app"}, // no reason
		{"remove", "--data", data, "app"},
	} {
		if err := dispatch(ctx, bad, &out, &errOut); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	// The project removed: its releases and runs go, the actions stay.
	out.Reset()
	if err := dispatch(context.Background(), []string{"remove", "--data", data, "--reason", "off the allowlist", "--by", "bo@ci", "app"}, &out, &errOut); err != nil ||
		out.String() != "removed app: 1 release, 3 runs and 0 waiting builds deleted\n" {
		t.Fatalf("remove: %v, %q %q", err, out.String(), errOut.String())
	}
	st, err := store.Open(context.Background(), filepath.Join(data, "pysmoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rs, err := st.Releases(context.Background(), "app"); err != nil || len(rs) != 0 {
		t.Errorf("app's releases after remove: %v, %v", rs, err)
	}
	acts, err := st.Actions(context.Background(), "app")
	if err != nil || len(acts) != 2 || acts[0].Action != "remove" || acts[0].Actor != "bo@ci" || acts[0].Reason != "off the allowlist" ||
		acts[1].Action != "rerun" || acts[1].Actor != "ana@ci" || acts[1].Reason != "checking the dependency's fix" ||
		acts[1].Detail != "1.0 on 3.12: 1 build queued" || acts[0].Detail != "1 release, 3 runs and 0 waiting builds deleted" {
		t.Errorf("app's actions: %+v, %v", acts, err)
	}
}
