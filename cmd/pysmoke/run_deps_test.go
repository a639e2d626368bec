package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/resolver"
)

// TestRunWithIndex: "pysmoke run --index" takes a release's dependencies
// from that index. Here both of depapp's are sdists only, the C extension
// too: each is built in the job's sandbox on 3.12, downloaded first into
// --mirror and verified; pytest-mock comes from the toolchain. The tests
// pass, and the JSON names what was installed.
func TestRunWithIndex(t *testing.T) {
	sandboxtest.Namespace(t)
	tmp := t.TempDir()
	indexURL, paths := sampleIndex(t, filepath.Join(tmp, "index"), "dependencies/depcext", "dependencies/depsdist")
	sums := map[string]string{}
	for name, p := range paths {
		sums[name] = fileSHA256(t, p)
	}
	app, err := localindex.WriteSdist(filepath.Join(tmp, "app"), "../../testdata/samples/depapp", "depapp", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(tmp, "mirror")
	var stdout, stderr bytes.Buffer
	err = dispatch(context.Background(), []string{"run", "--json", "--python", "3.12", "--index", indexURL, "--mirror", mirror, app}, &stdout, &stderr)
	if exitStatus(err) != 0 {
		t.Fatalf("exit status %d (%v); stderr:\n%s\nstdout:\n%s", exitStatus(err), err, stderr.String(), stdout.String())
	}
	var doc runJSON
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cells) != 1 {
		t.Fatalf("%d cells, want 1 (3.12)", len(doc.Cells))
	}
	c := doc.Cells[0]
	for _, st := range c.Steps {
		if st.Name == "tests" && st.Status != "passed" {
			t.Errorf("tests %s %s: %s", st.Status, st.Reason, st.Detail)
		}
	}
	// Written by hand: the two sdists as the index served them, and
	// Debian 13's pytest-mock (the toolchain of 3.12), which needs pytest
	// (8.3.5 there) and what pytest needs.
	byName := map[string]resolver.Pin{}
	for _, p := range c.Dependencies {
		byName[p.Project] = p
	}
	for _, want := range []resolver.Pin{
		{Project: "depcext", Version: "1.0", Filename: "depcext-1.0.tar.gz", SHA256: sums["depcext-1.0.tar.gz"]},
		{Project: "depsdist", Version: "1.0", Filename: "depsdist-1.0.tar.gz", SHA256: sums["depsdist-1.0.tar.gz"]},
	} {
		if byName[want.Project] != want {
			t.Errorf("%s: %+v, want %+v", want.Project, byName[want.Project], want)
		}
		if _, err := os.Stat(index.MirrorPath(mirror, want.SHA256, want.Filename)); err != nil {
			t.Errorf("mirror: %v", err)
		}
	}
	if p := byName["pytest-mock"]; p.Version != "3.14.0" || p.Filename != "pytest_mock-3.14.0-py3-none-any.whl" {
		t.Errorf("pytest-mock: %+v", p)
	}
	if p := byName["pytest"]; p.Version != "8.3.5" {
		t.Errorf("pytest: %+v, want 8.3.5 (pytest-mock 3.14.0 requires pytest>=6.2.5)", p)
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("installed: %v", names)
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
