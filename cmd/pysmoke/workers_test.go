package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/store"
)

// TestWorkersOnPostgres: the service (serve --workers 0) and two pysmoke
// worker processes, real binaries, share one Postgres database. The
// service crawls and queues and runs nothing; the workers share the jobs,
// each fetching the sdists into its own mirror from the index; worker
// w-a has 2.7 and 3.12, w-b only 3.12, so every 2.7 build is w-a's. The
// outcomes are the hand-written expected ones, the ones a single process
// on SQLite is held to (TestDemo, the runner's samples).
func TestWorkersOnPostgres(t *testing.T) {
	sandboxtest.Namespace(t)
	testenv.Python(t, "2.7")
	testenv.Python(t, "3.12")
	db := testenv.Postgres(t)
	want, err := expected.Load("../../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := buildPysmoke(t)
	samples := []string{"smokegood", "py2only", "usesimp"}
	var srcs []string
	for _, s := range samples {
		srcs = append(srcs, "samples/"+s)
	}
	indexURL, _ := sampleIndex(t, filepath.Join(tmp, "index"), srcs...)
	allow := filepath.Join(tmp, "allow.txt")
	os.WriteFile(allow, []byte(strings.Join(samples, "\n")+"\n"), 0o644)
	logOf := func(name string) string { b, _ := os.ReadFile(filepath.Join(tmp, name+".log")); return string(b) }
	// The URL comes from the environment, as an operator's password would.
	start := func(name string, args ...string) {
		startLogged(t, filepath.Join(tmp, name+".log"), []string{"PYSMOKE_DATABASE=" + db}, bin, args...)
	}
	start("service", "serve", "--index", indexURL, "--allowlist", allow, "--data", filepath.Join(tmp, "service"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python", "2.7,3.12", "--workers", "0",
		"--interval", "2s", "--hint-interval", "1s", "--confirm", "0")
	for name, pythons := range map[string]string{"w-a": "2.7,3.12", "w-b": "3.12"} {
		start(name, "worker", "--index", indexURL, "--allowlist", allow, "--data", filepath.Join(tmp, name),
			"--python", pythons, "--workers", "1", "--worker", name, "--confirm", "0")
	}

	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pythons := []string{"2.7", "3.12"}
	cells := map[string][]store.Cell{}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		n := 0
		for _, s := range samples {
			cells[s], _ = st.Cells(ctx, s, "1.0")
			n += len(cells[s])
		}
		if n == len(samples)*len(pythons) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d cells recorded after 10 minutes", n, len(samples)*len(pythons))
		}
		time.Sleep(500 * time.Millisecond)
	}
	ranBy := map[string]int{}
	for _, s := range samples {
		got := expected.Table{}
		for _, c := range cells[s] {
			for _, step := range c.Steps {
				got[expected.Key{Sample: s, Python: c.Python, Step: step.Name}] = expected.Outcome{Status: string(step.Status), Reason: step.Reason}
			}
			ranBy[c.Worker]++
			if c.Worker != "w-a" && c.Worker != "w-b" {
				t.Errorf("%s on %s ran on %q, not a worker", s, c.Python, c.Worker)
			}
			if c.Python == "2.7" && c.Worker != "w-a" {
				t.Errorf("%s on 2.7 ran on %s, which has no 2.7", s, c.Worker)
			}
			if c.Provenance == "" || !strings.Contains(c.Interpreter, "/"+c.Python) {
				t.Errorf("%s on %s: interpreter %q, provenance %q", s, c.Python, c.Interpreter, c.Provenance)
			}
			runs, err := st.Runs(ctx, s, "1.0", c.Python)
			if err != nil || len(runs) != 1 || !runs[0].Current || runs[0].State != store.RunComplete {
				t.Errorf("%s on %s: %d runs (%v), want one complete current run", s, c.Python, len(runs), err)
			}
		}
		for _, d := range want.Compare(got, []string{s}, pythons) {
			t.Errorf("%s: %s", s, d)
		}
	}
	t.Logf("builds by worker: %v", ranBy)
	if ranBy["w-a"] == 0 || ranBy["w-b"] == 0 {
		t.Errorf("the jobs were not shared: %v", ranBy)
	}
	if !strings.Contains(logOf("service"), "as=\"service without jobs\"") || strings.Contains(logOf("service"), "msg=tested") {
		t.Errorf("the service ran jobs:\n%s", tail(logOf("service"), 20))
	}
	for _, w := range []string{"w-a", "w-b"} {
		if !strings.Contains(logOf(w), "sdist fetched into this worker's mirror") {
			t.Errorf("%s fetched no sdist from the index:\n%s", w, tail(logOf(w), 20))
		}
	}
}
