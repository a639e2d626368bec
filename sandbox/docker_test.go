package sandbox

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/pysmoke/pysmoke/internal/testenv"
)

var (
	dockerOnce sync.Once
	dockerErr  error
)

// requireDocker returns the Docker backend, building its image once per
// test run when it is missing (tagged by the recipe's hash, so a stale
// image is rebuilt); it skips when the engine cannot run here, and under
// CI fails instead.
func requireDocker(t testing.TB) *Docker {
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
	testenv.Require(t, "Docker sandbox", dockerErr)
	return d
}

// TestDockerRefusesHostUsr: a distribution's Python (prefix /usr) cannot
// be mounted over the image's /usr; Open says so instead of the engine's
// "duplicate mount point".
func TestDockerRefusesHostUsr(t *testing.T) {
	d := requireDocker(t)
	for _, p := range []string{"/usr", "/usr/lib/python3.11", "/usr/"} {
		sb, err := d.Open(context.Background(), Spec{Scratch: testScratch(t, d), ReadOnly: []string{p}})
		if err == nil {
			sb.Close()
			t.Errorf("Open with %s mounted: no error", p)
			continue
		}
		if !strings.Contains(err.Error(), "host's /usr") {
			t.Errorf("Open with %s mounted: %v; want the host's /usr named", p, err)
		}
	}
}

// TestDockerBasics: a step runs as the sandbox's identity (and what it
// makes is that uid's on the host), with no capability in any set,
// no_new_privs and a seccomp filter; its exit status comes back; a step
// past its timeout is ended as such.
func TestDockerBasics(t *testing.T) {
	d := requireDocker(t)
	in := sandboxPython(t)
	ctx := context.Background()
	sc := testScratch(t, d)
	sb, err := d.Open(ctx, Spec{Scratch: sc, ReadOnly: []string{in.Prefix}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	env := []string{"PATH=" + in.Prefix + "/bin:/usr/bin:/bin", "HOME=/build", "LANG=C.UTF-8"}
	res, err := sb.Exec(ctx, Command{Env: env, Timeout: time.Minute, Argv: []string{"/bin/sh", "-c",
		"id -u; id -g; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; touch /build/made"}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d, %v:\n%s", res.ExitCode, err, res.Log)
	}
	id := d.identity()
	lines := strings.Fields(string(res.Log))
	got := map[string]string{}
	for i := 0; i+1 < len(lines); i++ {
		if strings.HasSuffix(lines[i], ":") {
			got[strings.TrimSuffix(lines[i], ":")] = lines[i+1]
		}
	}
	if len(lines) < 2 || lines[0] != strconv.Itoa(id.UID) || lines[1] != strconv.Itoa(id.GID) {
		t.Errorf("uid and gid %q; want %d and %d", lines[:min(2, len(lines))], id.UID, id.GID)
	}
	for _, c := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if got[c] != "0000000000000000" {
			t.Errorf("%s %q; want no capability", c, got[c])
		}
	}
	if got["NoNewPrivs"] != "1" || got["Seccomp"] != "2" {
		t.Errorf("NoNewPrivs %q, Seccomp %q; want 1 and 2 (a filter)", got["NoNewPrivs"], got["Seccomp"])
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(sc.Dir(), "made"), &st); err != nil || int(st.Uid) != id.UID {
		t.Errorf("the step's file on the host: uid %d, %v; want %d", st.Uid, err, id.UID)
	}
	if res, err := sb.Exec(ctx, Command{Env: env, Timeout: time.Minute, Argv: []string{"/bin/sh", "-c", "exit 3"}}); err != nil || res.ExitCode != 3 {
		t.Errorf("exit 3: got %d, %v", res.ExitCode, err)
	}
	res, err = sb.Exec(ctx, Command{Env: env, Timeout: time.Second, Argv: []string{"/bin/sh", "-c", "sleep 600"}})
	if err != nil || !res.TimedOut || res.LimitHit != LimitTimeout {
		t.Errorf("past its timeout: %+v, %v; want timed out", res, err)
	}
}

// TestDockerHostView: where pysmoke runs on the engine's host, it sees a
// step's processes in the container's cgroup, sees the container clean
// once they are gone, and reads the same counters the sweep prints from
// inside.
func TestDockerHostView(t *testing.T) {
	d := requireDocker(t)
	in := sandboxPython(t)
	ctx := context.Background()
	sb, err := d.Open(ctx, Spec{Scratch: testScratch(t, d), ReadOnly: []string{in.Prefix}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ds := sb.(*dockerSandbox)
	if ds.host == nil {
		// CI runs the engine on the machine the tests run on.
		testenv.Require(t, "a view of the engine's cgroups (a remote engine, or another cgroup namespace?)",
			errors.New("the containers' cgroups cannot be read from here: every step is swept from inside"))
	}
	if !ds.host.clean() {
		t.Fatal("a fresh container does not look clean")
	}
	env := []string{"PATH=/usr/bin:/bin"}
	done := make(chan ExecResult)
	go func() {
		res, err := sb.Exec(ctx, Command{Argv: []string{"/bin/sh", "-c", "sleep 3"}, Env: env, Timeout: time.Minute})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	seen := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !seen; time.Sleep(20 * time.Millisecond) {
		seen = !ds.host.clean()
	}
	<-done
	if !seen {
		t.Error("a running step was not seen in the container")
	}
	if !ds.host.clean() {
		t.Error("the container does not look clean after the step")
	}

	// A step that leaves a process behind: the sweep must run and end it.
	res, err := sb.Exec(ctx, Command{Argv: []string{"/bin/sh", "-c", "setsid sleep 300 >/dev/null 2>&1 < /dev/null & exit 0"}, Env: env, Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("leave a process: %v, exit %d: %s", err, res.ExitCode, res.Log)
	}
	if !ds.host.clean() {
		t.Error("the process a step left is still there after the step")
	}

	// A step that uses about 200 MB: its peak, read from the host, says so.
	res, err = sb.Exec(ctx, Command{Argv: []string{in.Path, "-c", "b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096])"}, Env: env, Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("allocate: %v, exit %d: %s", err, res.ExitCode, res.Log)
	}
	if res.MemoryPeak < 200<<20 {
		t.Errorf("peak %d bytes after allocating 200 MiB", res.MemoryPeak)
	}
	outside := ds.host.stats()
	inside, err := ds.sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if outside.oomKills != inside.oomKills || outside.pidsMax != inside.pidsMax || inside.peak < outside.peak || outside.peak < 200<<20 {
		t.Errorf("counters from the host %+v, from inside %+v", outside, inside)
	}
}

// TestDockerUsrVolume: an image's /usr volume is made on first use with
// the image's files, and one whose copy was cut short is made again.
func TestDockerUsrVolume(t *testing.T) {
	d := requireDocker(t)
	ctx := context.Background()
	cli, err := d.client()
	if err != nil {
		t.Fatal(err)
	}
	// An image of its own (the default one with a label: another ID, no
	// more disk), so that the volumes the other tests use are not touched.
	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Image: d.image(), Config: &container.Config{Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	img := "pysmoke-usr-test:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = cli.ContainerCommit(ctx, cr.ID, client.ContainerCommitOptions{Reference: img, Changes: []string{"LABEL pysmoke.test=usr-volume"}})
	cli.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	var vol string
	t.Cleanup(func() {
		if vol != "" {
			cli.VolumeRemove(ctx, vol, client.VolumeRemoveOptions{Force: true})
		}
		cli.ImageRemove(ctx, img, client.ImageRemoveOptions{Force: true})
	})

	fresh := &Docker{}
	vol, err = fresh.usrVolume(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	def, err := fresh.usrVolume(ctx, d.image())
	if err != nil {
		t.Fatal(err)
	}
	if vol == def {
		t.Fatalf("two images share the volume %s", vol)
	}
	check := func(what string) {
		t.Helper()
		for _, argv := range [][]string{{"/usr/bin/test", "-e", usrMarker}, {"/usr/bin/test", "-x", "/usr/bin/gcc"}, {"/usr/bin/test", "-f", "/usr/lib/os-release"}} {
			if err := fresh.runOnce(ctx, img, vol, true, argv...); err != nil {
				t.Errorf("%s: %q in the volume: %v", what, argv, err)
			}
		}
	}
	check("made")

	// Cut the copy short: without its marker the volume is incomplete,
	// and the next process to use it makes it again.
	if err := fresh.runOnce(ctx, img, vol, false, "/usr/bin/rm", "-r", usrMarker, "/usr/bin/gcc"); err != nil {
		t.Fatal(err)
	}
	again := &Docker{}
	if v, err := again.usrVolume(ctx, img); err != nil || v != vol {
		t.Fatalf("made again: %q, %v", v, err)
	}
	check("made again")

	// Once the image is gone, its volume goes with the next prune; the
	// default image's stays.
	if _, err := cli.ImageRemove(ctx, img, client.ImageRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	gone, err := again.pruneUsrVolumes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(gone, vol) || slices.Contains(gone, def) {
		t.Errorf("pruned %q; want %s and not %s", gone, vol, def)
	}
	if _, err := cli.VolumeInspect(ctx, vol, client.VolumeInspectOptions{}); err == nil {
		t.Errorf("volume %s is still there", vol)
	}
}
