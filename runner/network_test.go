package runner

import (
	"context"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/sandbox"
)

// TestNeedsNetworkFromSandbox: what a package sees when it reaches for the
// network in the real sandbox is binned as "needs network", the package's
// failure: a name lookup, a connection to an address, a URL.
func TestNeedsNetworkFromSandbox(t *testing.T) {
	b := sandboxtest.Namespace(t)
	in := testenv.Python(t, "3.11")
	sc, err := b.NewScratch(t.TempDir(), sandbox.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sb, err := b.Open(context.Background(), sandbox.Spec{Scratch: sc, ReadOnly: []string{in.Prefix}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer sb.Close()
	for _, code := range []string{
		`import socket; socket.getaddrinfo("pypi.org", 443)`,
		`import socket; socket.create_connection(("1.1.1.1", 443), timeout=5)`,
		`import urllib.request; urllib.request.urlopen("https://pypi.org/simple/", timeout=5)`,
	} {
		res, err := sb.Exec(context.Background(), sandbox.Command{Argv: []string{in.Path, "-c", code},
			Dir: sandbox.BuildRoot, Env: []string{"PATH=" + in.Prefix + "/bin:/usr/bin:/bin", "HOME=" + sandbox.BuildRoot, "LANG=C.UTF-8"}, Timeout: time.Minute})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		st, reason, detail := classify(outcome.StepTests, res.ExitCode, res.Log, in)
		if res.ExitCode != 1 || st != outcome.Failed || reason != outcome.ReasonNeedsNetwork {
			t.Errorf("%s: exit %d, classified %s %s (%s)\n%s", code, res.ExitCode, st, reason, detail, res.Log)
		}
	}
}
