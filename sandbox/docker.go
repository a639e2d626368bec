package sandbox

// The Docker backend: one container per job (create and start cost about
// 0.6 s, too much per step), one exec per step. The container has no
// network, no capabilities, no_new_privs, a read-only root, a size-capped
// tmpfs /tmp, the memory, pids and CPU limits of Spec.Limits, and runs its
// steps as the sandbox's identity (identity.go), a uid of pysmoke's own and
// the same on the host (the scratch, on a filesystem of its own when the
// service is root, is handed to it).
// A step ends when its command does: every process it left is then killed
// from outside by a sweep (kill -9 -1 as the sandbox's uid, which spares
// only the container's init), or, when even that cannot start (a fork
// bomb at the pids limit), by killing and restarting the container. Where
// pysmoke runs on the engine's host it looks at the container's cgroup
// first, and skips the sweep when the step left nothing (docker_host.go).
// The image's /usr is mounted from a volume (docker_usr.go).
//
// Docker is used only here and by the image command; the client negotiates
// down to the engine's API (1.41 on Docker 20.10).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Docker is the Docker Engine backend.
type Docker struct {
	// Host is the engine's address; empty means DOCKER_HOST or the local
	// socket.
	Host string
	// Image is the image containers start from; empty means
	// DefaultImage(), which `pysmoke image` builds.
	Image string
	// Identity is the uid and gid the steps run as (the same on the host:
	// no user namespace remapping is assumed); its Keeper runs the
	// container's init and keep-alive, so that a step can neither signal
	// them nor be spared by a sweep as they are. Zero means
	// DefaultIdentity().
	Identity Identity

	mu  sync.Mutex
	cli *client.Client

	usrMu      sync.Mutex
	usrVolumes map[string]string // image -> the volume with its /usr
}

var _ Backend = (*Docker)(nil)

// Name implements Backend.
func (d *Docker) Name() string { return "docker" }

func (d *Docker) client() (*client.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cli != nil {
		return d.cli, nil
	}
	opts := []client.Opt{client.FromEnv}
	if d.Host != "" {
		opts = append(opts, client.WithHost(d.Host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	d.cli = cli
	return cli, nil
}

// ImageName is the image the jobs run in (its tag is a hash of the recipe
// of pysmoke's own image), for the cells' provenance.
func (d *Docker) ImageName() string { return d.image() }

func (d *Docker) image() string {
	if d.Image != "" {
		return d.Image
	}
	return DefaultImage()
}

// Available implements Backend: the engine answers, and the image is
// there.
func (d *Docker) Available(ctx context.Context) error {
	cli, err := d.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("the Docker engine does not answer (is dockerd running, and may this user use its socket?): %w", err)
	}
	if _, err := cli.ImageInspect(ctx, d.image()); err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("image %s is missing: build it with `pysmoke image`", d.image())
		}
		return fmt.Errorf("image %s: %w", d.image(), err)
	}
	if os.Geteuid() == 0 {
		if err := cappedAvailable(); err != nil {
			return err
		}
	}
	return nil
}

// identity is who the steps run as.
func (d *Docker) identity() Identity {
	if d.Identity != (Identity{}) {
		return d.Identity
	}
	id, _ := DefaultIdentity()
	return id
}

// NewScratch implements Backend: handed to the steps' identity, and as
// root a filesystem of its own (the engine mounts it from this host).
func (d *Docker) NewScratch(parent string, lim Limits) (*Scratch, error) {
	return NewScratch(ScratchOptions{Parent: parent, Limits: lim, Owner: d.identity(), Capped: os.Geteuid() == 0})
}

// Open implements Backend: it creates and starts the job's container.
func (d *Docker) Open(ctx context.Context, spec Spec) (Sandbox, error) {
	cli, err := d.client()
	if err != nil {
		return nil, err
	}
	if spec.Scratch == nil {
		return nil, errors.New("sandbox: no scratch")
	}
	id := d.identity()
	if err := id.check(); err != nil {
		return nil, err
	}
	// What the host put into the scratch is the steps' uid's.
	if err := spec.Scratch.HandOver("."); err != nil {
		return nil, fmt.Errorf("sandbox scratch: %w", err)
	}
	lim := spec.Limits.withDefaults()
	mounts := []mount.Mount{{Type: mount.TypeBind, Source: spec.Scratch.Dir(), Target: BuildRoot}}
	for _, p := range spec.ReadOnly {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("read-only mount %q is not absolute", p)
		}
		// The container's /usr is the image's: the host's cannot be
		// mounted over it (nor could the image's C library run the
		// host's programs).
		if p = filepath.Clean(p); p == "/usr" || strings.HasPrefix(p, "/usr/") {
			return nil, fmt.Errorf("read-only mount %q: an interpreter installed in the host's /usr (a distribution's Python) cannot run in the Docker sandbox, whose /usr is the image's; use one with a prefix of its own, such as pyenv's, or the namespace backend", p)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: p, Target: p, ReadOnly: true})
	}
	img := d.image()
	usr, err := d.usrVolume(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: usr, Target: "/usr", ReadOnly: true,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}})
	pids := lim.Pids
	yes := true
	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image: img,
		Config: &container.Config{
			// The container's own process: Docker's init (tini), which
			// reaps orphans, and a sleep, both as a uid of their own
			// that the steps' uid cannot signal, so the sweeps spare
			// them.
			Cmd:             []string{"sleep", "infinity"},
			User:            fmt.Sprintf("%d:%d", id.Keeper(), id.Keeper()),
			WorkingDir:      BuildRoot,
			Env:             []string{"PATH=/usr/bin:/bin"},
			NetworkDisabled: true,
			Labels:          map[string]string{"pysmoke": "sandbox", "pysmoke.scratch": spec.Scratch.Dir()},
		},
		HostConfig: &container.HostConfig{
			NetworkMode:    "none",
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			ReadonlyRootfs: true,
			IpcMode:        "private",
			Init:           &yes,
			Tmpfs:          map[string]string{"/tmp": fmt.Sprintf("rw,exec,nosuid,nodev,mode=1777,size=%d", lim.Tmp)},
			Mounts:         mounts,
			Resources: container.Resources{
				Memory:     lim.Memory,
				MemorySwap: lim.Memory,
				PidsLimit:  &pids,
				NanoCPUs:   int64(lim.CPUs * 1e9),
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: create container: %w", err)
	}
	s := &dockerSandbox{cli: cli, id: cr.ID, lim: lim, scratch: spec.Scratch, uid: strconv.Itoa(id.UID), gid: strconv.Itoa(id.GID)}
	if _, err := cli.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		s.Close()
		return nil, fmt.Errorf("sandbox: start container: %w", err)
	}
	s.lookFromHost(ctx)
	return s, nil
}

// lookFromHost sets up the view of the container's cgroups from the
// engine's host, or leaves it nil where there is none.
func (s *dockerSandbox) lookFromHost(ctx context.Context) {
	ci, err := s.cli.ContainerInspect(ctx, s.id, client.ContainerInspectOptions{})
	var v *dockerHostView
	if err == nil && ci.Container.State != nil {
		v = newDockerHostView(ci.Container.State.Pid)
	}
	s.mu.Lock()
	s.host = v
	s.mu.Unlock()
}

type dockerSandbox struct {
	cli      *client.Client
	id       string
	lim      Limits
	scratch  *Scratch
	uid, gid string // the steps'

	mu       sync.Mutex
	closed   bool
	oomKills int64 // the container's count after the last step
	pidsMax  int64
	host     *dockerHostView // nil: sweep after every step
}

// Exec implements Sandbox.
func (s *dockerSandbox) Exec(ctx context.Context, c Command) (ExecResult, error) {
	if len(c.Argv) == 0 {
		return ExecResult{}, errors.New("sandbox: empty command")
	}
	for _, kv := range c.Env {
		if _, _, ok := cut(kv); !ok {
			return ExecResult{}, fmt.Errorf("sandbox: bad environment entry %q", kv)
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Hour
	}
	if err := ctx.Err(); err != nil {
		return ExecResult{}, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ExecResult{}, errors.New("sandbox: closed")
	}
	// A step starts with an empty /tmp, as in the namespace backend; the
	// sweep used to empty it after each step, but it now runs only when a
	// step leaves processes behind.
	script := `/usr/bin/find /tmp -mindepth 1 -delete 2>/dev/null; umask 022 && exec "$0" "$@"`
	if !slices.ContainsFunc(c.Env, func(kv string) bool { return strings.HasPrefix(kv, "PWD=") }) {
		script = "unset PWD; " + script
	}
	// Docker adds the container's own variables (HOSTNAME) to an exec's:
	// env -i makes the environment exactly c.Env.
	argv := append([]string{"/usr/bin/env", "-i"}, c.Env...)
	argv = append(append(argv, "/bin/sh", "-c", script), c.Argv...)
	dir := c.Dir
	if dir == "" {
		dir = BuildRoot
	}
	// The API's context is not the step's: ending the step must not
	// abandon the container mid-call.
	api := context.WithoutCancel(ctx)
	ec, err := s.cli.ExecCreate(api, s.id, client.ExecCreateOptions{
		User: s.uid + ":" + s.gid, WorkingDir: dir, Cmd: argv,
		AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("sandbox: exec create: %w", err)
	}
	start := time.Now()
	att, err := s.cli.ExecAttach(api, ec.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("sandbox: exec start: %w", err)
	}
	defer att.Close()
	log := &capWriter{limit: c.LogLimit}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		stdcopy.StdCopy(log, log, att.Reader)
	}()

	w := watchStep(ctx, c, s.lim, s.scratch, log, func() { s.sweep(api) })
	var exitCode int
	var inspectErr error
	streamDone := false
	var streamCh <-chan struct{} = copied
	for {
		ei, err := s.cli.ExecInspect(api, ec.ID, client.ExecInspectOptions{})
		if err != nil {
			inspectErr = err
			break
		}
		// Not running yet looks like not running any more: an exec that
		// has run has a pid, or (one that could not start) a closed
		// stream.
		if !ei.Running && (ei.PID != 0 || streamDone) {
			exitCode = ei.ExitCode
			break
		}
		// The stream ends with the command: from then on its end is due
		// at any moment, so look again soon.
		poll := 50 * time.Millisecond
		if streamDone {
			poll = 5 * time.Millisecond
		}
		select {
		case <-streamCh:
			streamDone, streamCh = true, nil
		case <-time.After(poll):
		}
	}
	hit := w.stop()
	// The command is done: end whatever it left behind, which also closes
	// the output stream a daemon may hold. When the host sees that
	// nothing is left, the counters are read from there instead.
	stats, sweepErr := s.afterStep(api)
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		att.Close()
		<-copied
	}
	res := ExecResult{Log: log.buf.Bytes(), LogTruncated: log.dropped > 0, Duration: time.Since(start), ExitCode: exitCode}
	if log.dropped > 0 {
		res.Log = append(res.Log, fmt.Sprintf("\n[pysmoke: log truncated, %d more bytes dropped]\n", log.dropped)...)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if inspectErr != nil {
		return res, fmt.Errorf("sandbox: exec inspect: %w", inspectErr)
	}
	if sweepErr != nil {
		return res, fmt.Errorf("sandbox: the step's processes could not be ended: %w", sweepErr)
	}
	res.MemoryPeak = stats.peak
	s.mu.Lock()
	oom, pidsMax := stats.oomKills > s.oomKills, stats.pidsMax > s.pidsMax
	s.oomKills, s.pidsMax = max(s.oomKills, stats.oomKills), max(s.pidsMax, stats.pidsMax)
	if stats.restarted {
		// The restarted container counts from zero.
		s.oomKills, s.pidsMax = 0, 0
	}
	s.mu.Unlock()
	switch {
	case hit != "":
		res.LimitHit = hit
	case oom || stats.restarted && exitCode == 137:
		res.LimitHit = LimitMemory
	case pidsMax:
		res.LimitHit = LimitPids
	case s.scratch.Full():
		res.LimitHit = LimitDisk
	}
	if hit == LimitTimeout || hit == LimitNoOutput {
		res.TimedOut, res.ExitCode = true, -1
	} else if exitCode >= 128 && hit != "" {
		res.ExitCode = -1
	}
	return res, nil
}

type sweepStats struct {
	oomKills, pidsMax, peak int64
	restarted               bool
}

// sweepScript kills every process of the steps' uid (its first argument)
// but itself until
// none is left (kill -1 reports success while any other process exists,
// even one it may not signal, so it checks /proc, with builtins only: at
// the pids limit it cannot fork), empties /tmp as the namespace backend's
// fresh /tmp per step would be, and prints the container's memory and
// pids counters (cgroup v1 or v2 layout).
const sweepScript = `me=$$; i=0
while :; do
	kill -9 -1 2>/dev/null
	left=0
	for p in /proc/[0-9]*; do
		[ "$p" = /proc/$me ] && continue
		uid=; st=
		{ while read -r k a b; do
			case $k in State:) st=$a;; Uid:) uid=$a; break;; esac
		done < $p/status; } 2>/dev/null
		[ "$uid" = "$1" ] && [ "$st" != Z ] && left=1
	done
	[ $left = 0 ] && break
	i=$((i+1)); [ $i -lt 1000 ] || { echo "sweep: processes left" >&2; exit 1; }
done
find /tmp -mindepth 1 -delete 2>/dev/null
cg=/sys/fs/cgroup
cat $cg/memory/memory.oom_control $cg/memory.events 2>/dev/null | grep '^oom_kill '
echo "pids_max $(cat $cg/pids/pids.events $cg/pids.events 2>/dev/null | grep '^max ' | head -1 | sed 's/.* //')"
echo "peak $(cat $cg/memory/memory.max_usage_in_bytes $cg/memory.peak 2>/dev/null | head -1)"
`

// afterStep reads the container's counters after a step, and sweeps it
// unless the host sees that the step left no process.
func (s *dockerSandbox) afterStep(ctx context.Context) (sweepStats, error) {
	s.mu.Lock()
	v := s.host
	s.mu.Unlock()
	if v != nil && v.clean() {
		return v.stats(), nil
	}
	return s.sweep(ctx)
}

// sweep ends every process a step left in the container, from outside
// it. When the sweep itself cannot start (a fork bomb holding the pids
// limit), the container is killed and started again: the scratch is a
// bind mount and survives, /tmp does not.
func (s *dockerSandbox) sweep(ctx context.Context) (sweepStats, error) {
	var st sweepStats
	restarted := false
	sweep := []string{"/bin/sh", "-c", sweepScript, "sweep", s.uid}
	out, err := s.run(ctx, sweep, s.uid+":"+s.gid)
	var before *sweepStats
	if err != nil {
		restarted = true
		// The restart makes the container's cgroups anew, counters and
		// all: keep what they say of this step, where the host can see.
		s.mu.Lock()
		v := s.host
		s.mu.Unlock()
		if v != nil {
			b := v.stats()
			before = &b
		}
		if _, err := s.cli.ContainerKill(ctx, s.id, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !strings.Contains(err.Error(), "is not running") {
			return st, fmt.Errorf("kill container: %w", err)
		}
		if err := s.waitStopped(ctx); err != nil {
			return st, err
		}
		if _, err := s.cli.ContainerStart(ctx, s.id, client.ContainerStartOptions{}); err != nil {
			return st, fmt.Errorf("restart container: %w", err)
		}
		// The init is a new process now.
		s.lookFromHost(ctx)
		if out, err = s.run(ctx, sweep, s.uid+":"+s.gid); err != nil {
			return st, err
		}
	}
	st = parseSweep(out)
	st.restarted = restarted
	if before != nil {
		st.oomKills, st.pidsMax, st.peak = before.oomKills, before.pidsMax, max(st.peak, before.peak)
	}
	return st, nil
}

// parseSweep reads the counters sweepScript prints.
func parseSweep(out string) sweepStats {
	var st sweepStats
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, " ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "oom_kill":
			st.oomKills = n
		case "pids_max":
			st.pidsMax = n
		case "peak":
			st.peak = n
		}
	}
	return st
}

func (s *dockerSandbox) waitStopped(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ci, err := s.cli.ContainerInspect(ctx, s.id, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect container: %w", err)
		}
		if ci.Container.State == nil || !ci.Container.State.Running {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("container still running 10 s after SIGKILL")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run executes a command of pysmoke's own in the container and returns
// its output.
func (s *dockerSandbox) run(ctx context.Context, argv []string, user string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ec, err := s.cli.ExecCreate(ctx, s.id, client.ExecCreateOptions{User: user, Cmd: argv, Env: []string{"PATH=/usr/bin:/bin"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", err
	}
	att, err := s.cli.ExecAttach(ctx, ec.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", err
	}
	defer att.Close()
	var out, errOut bytes.Buffer
	stdcopy.StdCopy(&out, &errOut, io.LimitReader(att.Reader, 1<<20))
	ei, err := s.cli.ExecInspect(ctx, ec.ID, client.ExecInspectOptions{})
	if err != nil {
		return "", err
	}
	if ei.Running || ei.ExitCode != 0 {
		return "", fmt.Errorf("exec %q: exit %d: %s", argv, ei.ExitCode, errOut.String())
	}
	return out.String(), nil
}

// Close implements Sandbox: it removes the container and every process
// in it.
func (s *dockerSandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.cli.ContainerRemove(ctx, s.id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("sandbox: remove container: %w", err)
	}
	return nil
}

var pingNegotiate = client.PingOptions{NegotiateAPIVersion: true}

// ContainersUnder lists the containers (running or not) of the jobs whose
// scratch is under dir: none once every sandbox made there is closed.
func (d *Docker) ContainersUnder(ctx context.Context, dir string) ([]string, error) {
	cli, err := d.client()
	if err != nil {
		return nil, err
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "pysmoke.scratch")})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range list.Items {
		if strings.HasPrefix(c.Labels["pysmoke.scratch"], dir+string(filepath.Separator)) {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}
