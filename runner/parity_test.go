package runner_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/runner"
)

// requireDockerBackend returns the Docker backend, building its image
// when it is missing; it skips when the engine cannot run here, and under
// CI fails instead.
func requireDockerBackend(t *testing.T) runner.Backend {
	t.Helper()
	d := &runner.Docker{}
	ctx := context.Background()
	err := d.Available(ctx)
	if err != nil && strings.Contains(err.Error(), "pysmoke image") {
		if _, berr := d.BuildImage(ctx, "", io.Discard); berr != nil {
			err = fmt.Errorf("%v; building it: %w", err, berr)
		} else {
			err = d.Available(ctx)
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Docker sandbox unavailable in CI: %v", err)
		}
		t.Skipf("Docker sandbox unavailable: %v", err)
	}
	return d
}

// TestBackendParity runs every sample on both backends and requires the
// same status and reason for every step.
func TestBackendParity(t *testing.T) {
	ns := requireSandbox(t)
	dk := requireDockerBackend(t)
	all := requirePythons(t)
	// One interpreter in make test; the oldest, a middle and the newest
	// in make test-full (PYSMOKE_TEST_FULL=1): each job makes its build
	// and test environments, so a job costs seconds.
	minors := []string{"3.11"}
	if os.Getenv("PYSMOKE_TEST_FULL") != "" {
		minors = []string{"2.7", "3.11", "3.13"}
	}
	var ins []runner.Interpreter
	for _, in := range all {
		if slices.Contains(minors, in.Minor) {
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		ins = all[:1]
	}
	tc := requireToolchain(t, ins)
	samples, err := os.ReadDir("../testdata/samples")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type key struct{ sample, python, step string }
	outcomes := map[string]map[key]string{}
	details := map[string]map[key]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, b := range []runner.Backend{ns, dk} {
		outcomes[b.Name()] = map[key]string{}
		details[b.Name()] = map[key]string{}
		r := runner.New(runner.Options{Backend: b, Toolchain: tc, ScratchDir: filepath.Join(dir, "scratch-"+b.Name())})
		for _, s := range samples {
			sample := s.Name()
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
						t.Errorf("%s on %s with %s: %v", sample, in.Minor, b.Name(), err)
						return
					}
					for _, st := range res.Steps {
						outcomes[b.Name()][key{sample, in.Minor, st.Name}] = string(st.Status) + " " + st.Reason
						details[b.Name()][key{sample, in.Minor, st.Name}] = st.Detail + "\n" + string(st.Log[max(0, len(st.Log)-1500):])
						if st.Status == runner.Machinery && st.Reason == runner.ReasonSandbox {
							t.Errorf("%s %s %s on %s: the sandbox failed: %s", sample, in.Minor, st.Name, b.Name(), st.Detail)
						}
					}
				}()
			}
		}
	}
	wg.Wait()
	a, b := outcomes[ns.Name()], outcomes[dk.Name()]
	if len(a) == 0 {
		t.Fatal("no outcomes")
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s on %s, step %s: namespace %q, docker %q\nnamespace: %s\ndocker: %s", k.sample, k.python, k.step, v, b[k], details[ns.Name()][k], details[dk.Name()][k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s on %s, step %s: only docker has it (%q)", k.sample, k.python, k.step, v)
		}
	}
	t.Logf("%d step outcomes compared", len(a))
}
