// Package sandboxtest gives the tests of the sandbox's consumers (the
// runner, the commands) the real backends, under testenv's rule: skipped
// where one cannot run, a failure under CI.
package sandboxtest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/sandbox"
)

// Namespace returns the namespace backend.
func Namespace(t testing.TB) *sandbox.Namespace {
	t.Helper()
	b := &sandbox.Namespace{}
	testenv.Require(t, "namespace sandbox", b.Available(context.Background()))
	return b
}

var (
	dockerOnce sync.Once
	dockerErr  error
)

// Docker returns the Docker backend, building its image once per test
// process when it is missing (tagged by the recipe's hash, so a stale image
// is rebuilt).
func Docker(t testing.TB) *sandbox.Docker {
	t.Helper()
	d := &sandbox.Docker{}
	dockerOnce.Do(func() {
		var log bytes.Buffer
		if _, err := d.BuildImage(context.Background(), "", &log); err != nil {
			dockerErr = err
			t.Logf("image build:\n%s", log.String())
			return
		}
		dockerErr = d.Available(context.Background())
	})
	testenv.Require(t, "Docker sandbox", dockerErr)
	return d
}

// Backends returns both real backends.
func Backends(t testing.TB) []sandbox.Backend {
	t.Helper()
	return []sandbox.Backend{Namespace(t), Docker(t)}
}
