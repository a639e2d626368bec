package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/runner"
)

// requireSandbox returns the namespace backend, or skips when it cannot
// run here; under CI a missing sandbox is a failure, never a skip.
func requireSandbox(t *testing.T) runner.Backend {
	t.Helper()
	b := &runner.Namespace{}
	if err := b.Available(context.Background()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sandbox unavailable in CI: %v", err)
		}
		t.Skipf("sandbox unavailable: %v", err)
	}
	return b
}

func requirePythons(t *testing.T) []runner.Interpreter {
	t.Helper()
	ins, problems := runner.Discover(context.Background(), runner.DiscoverOptions{})
	for _, p := range problems {
		t.Log(p)
	}
	if len(ins) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no Python interpreters found in CI")
		}
		t.Skip("no Python interpreters found")
	}
	return ins
}

// TestSamplesMatchExpected runs every sample on every interpreter and
// compares each step with the hand-written expected outcomes.
func TestSamplesMatchExpected(t *testing.T) {
	backend := requireSandbox(t)
	ins := requirePythons(t)
	want, err := expected.Load("../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := runner.New(runner.Options{Backend: backend, ScratchDir: filepath.Join(dir, "scratch")})
	got := expected.Table{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	var pythons []string
	for _, in := range ins {
		pythons = append(pythons, in.Minor)
	}
	for _, sample := range want.Samples() {
		sdist, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), filepath.Join("../testdata/samples", sample), sample, "1.0")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				res, err := r.Run(context.Background(), runner.Job{Project: sample, Version: "1.0", Sdist: sdist, Interpreter: in})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("%s on %s: %v", sample, in.Minor, err)
					return
				}
				for _, st := range res.Steps {
					got[expected.Key{Sample: sample, Python: in.Minor, Step: st.Name}] = expected.Outcome{Status: string(st.Status), Reason: st.Reason}
					if st.Status != runner.Passed && st.Status != runner.NotAvailable {
						t.Logf("%s %s %s: %s %s: %s", sample, in.Minor, st.Name, st.Status, st.Reason, firstLines(st.Log, 3))
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, d := range want.Compare(got, want.Samples(), pythons) {
		t.Error(d)
	}
	// Every job removed its scratch.
	left, _ := os.ReadDir(filepath.Join(dir, "scratch"))
	if len(left) != 0 {
		t.Errorf("scratch left behind: %d entries", len(left))
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
