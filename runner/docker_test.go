package runner

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	dockerOnce sync.Once
	dockerErr  error
)

// requireDocker returns the Docker backend, building its image once per
// test run when it is missing (tagged by the recipe's hash, so a stale
// image is rebuilt); it skips when the engine cannot run here, and under
// CI fails instead.
func requireDocker(t *testing.T) *Docker {
	t.Helper()
	d := &Docker{}
	dockerOnce.Do(func() {
		ctx := context.Background()
		cli, err := d.client()
		if err != nil {
			dockerErr = err
			return
		}
		if _, err := cli.Ping(ctx, pingNegotiate); err != nil {
			dockerErr = err
			return
		}
		var log bytes.Buffer
		if _, err := d.BuildImage(ctx, "", &log); err != nil {
			dockerErr = err
			t.Logf("image build:\n%s", log.String())
			return
		}
		dockerErr = d.Available(ctx)
	})
	if dockerErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Docker sandbox unavailable in CI: %v", dockerErr)
		}
		t.Skipf("Docker sandbox unavailable: %v", dockerErr)
	}
	return d
}

func TestDockerBasics(t *testing.T) {
	d := requireDocker(t)
	in := sandboxPython(t)
	scratch := t.TempDir()
	ctx := context.Background()
	start := time.Now()
	sb, err := d.Open(ctx, Spec{Scratch: scratch, ReadOnly: []string{in.Prefix}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	t.Logf("open: %s", time.Since(start))
	env := []string{"PATH=" + in.Prefix + "/bin:/usr/bin:/bin", "HOME=/build", "LANG=C.UTF-8"}
	for _, c := range []Command{
		{Argv: []string{"/bin/sh", "-c", "id; env; pwd; umask; cat /proc/self/status | grep -E 'Cap|NoNew'; ls -la /; python3 -c 'import ssl, sqlite3; print(\"py ok\")'"}},
		{Argv: []string{"/bin/sh", "-c", "exit 3"}},
		{Argv: []string{"/bin/sh", "-c", "sleep 600"}, Timeout: time.Second},
	} {
		c.Env = env
		start := time.Now()
		res, err := sb.Exec(ctx, c)
		t.Logf("%q: %s exit %d hit %q peak %d err %v\n%s", c.Argv, time.Since(start), res.ExitCode, res.LimitHit, res.MemoryPeak, err, res.Log)
	}
	_ = strings.Contains
}
