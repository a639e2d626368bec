package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Namespace is the embedded sandbox backend: bubblewrap puts every step in
// new user, mount, pid, network, ipc, uts and cgroup namespaces, on a root
// built from nothing (the host's /usr read-only, the interpreters read-only,
// the job's scratch, a private size-capped /tmp), as an unprivileged uid,
// with no network but loopback, and a control group of its own (cgroup v2,
// or v1) holding its memory, pids and CPU to Spec.Limits. Starting it costs
// about 15 ms, so each step gets its own process tree and /tmp while the
// job's scratch carries the tree between steps.
type Namespace struct {
	// Bwrap is the bubblewrap executable; empty means "bwrap" on PATH.
	Bwrap string
	// Identity is the host uid and gid the steps run as when the service
	// is root; zero means DefaultIdentity(). (An ordinary user's service
	// runs them as its own uid: bubblewrap maps the sandbox's uid onto
	// the uid that starts it.)
	Identity Identity

	once    sync.Once
	cgroups cgroupDriver // nil until detected; tests set it
	cgErr   error
	pool    *groupPool
}

var _ Backend = (*Namespace)(nil)

// Name implements Backend.
func (n *Namespace) Name() string { return "namespace" }

// identity is who the steps run as on the host, when the service is root.
func (n *Namespace) identity() Identity {
	if n.Identity != (Identity{}) {
		return n.Identity
	}
	id, _ := DefaultIdentity()
	return id
}

// NewScratch implements Backend: as root, a filesystem of its own handed
// to the sandbox's identity; else a plain folder of the service's.
func (n *Namespace) NewScratch(parent string, lim Limits) (*Scratch, error) {
	if os.Geteuid() != 0 {
		return NewScratch(ScratchOptions{Parent: parent, Limits: lim})
	}
	return NewScratch(ScratchOptions{Parent: parent, Limits: lim, Owner: n.identity(), Capped: true})
}

func (n *Namespace) bwrap() (string, error) {
	name := n.Bwrap
	if name == "" {
		name = "bwrap"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("bubblewrap (%s) not found: install Debian's bubblewrap package (apt-get install bubblewrap): %w", name, err)
	}
	return p, nil
}

func (n *Namespace) cgroup() (cgroupDriver, error) {
	n.once.Do(func() {
		if n.cgroups == nil {
			n.cgroups, n.cgErr = detectCgroups()
		}
		if n.cgErr == nil {
			n.pool = poolFor(n.cgroups)
		}
	})
	return n.cgroups, n.cgErr
}

// Available implements Backend: it checks that the cgroup limits can be
// enforced, then starts a real sandbox on the base root and checks that
// the host's Docker socket is not in it.
func (n *Namespace) Available(ctx context.Context) error {
	bw, err := n.bwrap()
	if err != nil {
		return err
	}
	cg, err := n.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Check(); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := cappedAvailable(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// As the steps' bubblewrap will run: as root, as the sandbox's
	// identity (which needs unprivileged user namespaces).
	cmd := exec.CommandContext(ctx, bw, append(baseArgs(DefaultLimits.Tmp), "--", "/bin/sh", "-c", "test ! -e /var/run/docker.sock && echo ok")...)
	if os.Geteuid() == 0 {
		id := n.identity()
		if err := id.check(); err != nil {
			return err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(id.UID), Gid: uint32(id.GID), Groups: []uint32{}}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("ok")) {
		return fmt.Errorf("bubblewrap cannot make namespaces here as the sandbox's uid (unprivileged user namespaces disabled?): %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Leftovers lists the step groups this process handed out and has not
// had back (a sandbox's next step's, made ready in advance, among them),
// and idle ones that hold a process: none once every sandbox it opened is
// closed. It is how the tests, and anyone watching a long-running
// service, see that steps leave nothing.
func (n *Namespace) Leftovers() []string {
	if _, err := n.cgroup(); err != nil {
		return nil
	}
	return n.pool.leftovers()
}

// Groups is how many step groups this process keeps (handed out or idle):
// bounded by the steps that ever ran or waited at once, not by how many
// ran.
func (n *Namespace) Groups() int {
	if _, err := n.cgroup(); err != nil {
		return 0
	}
	return n.pool.size()
}

// baseArgs is the root every sandbox starts from.
func baseArgs(tmpSize int64) []string {
	return []string{
		"--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
		"--disable-userns", "--cap-drop", "ALL",
		"--die-with-parent", "--new-session",
		"--ro-bind", "/usr", "/usr",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
		"--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
		"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
		// A fresh /proc, with what a process of any uid could still
		// reach the host's kernel through read-only: the sysctls (a
		// pipe in core_pattern runs as root on the next crash), the
		// SysRq trigger, IRQ and bus settings.
		"--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys",
		"--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger",
		"--ro-bind-try", "/proc/irq", "/proc/irq", "--ro-bind-try", "/proc/bus", "/proc/bus",
		"--dev", "/dev",
		"--size", fmt.Sprint(tmpSize), "--tmpfs", "/tmp",
	}
}

// Open implements Backend.
func (n *Namespace) Open(ctx context.Context, spec Spec) (Sandbox, error) {
	bw, err := n.bwrap()
	if err != nil {
		return nil, err
	}
	_, err = n.cgroup()
	if err != nil {
		return nil, err
	}
	if spec.Scratch == nil {
		return nil, errors.New("sandbox: no scratch")
	}
	lim := spec.Limits.withDefaults()
	sb := &nsSandbox{bwrap: bw, pool: n.pool, lim: lim, scratch: spec.Scratch, spare: make(chan *launch, 1)}
	// As root, bubblewrap is started as the sandbox's identity, which
	// reaches what it mounts through a stage (stage.go).
	from := func(p string, _ bool) (string, error) { return p, nil }
	if os.Geteuid() == 0 {
		id := n.identity()
		if err := id.check(); err != nil {
			return nil, err
		}
		// What the host put into the scratch is the steps' uid's.
		if err := spec.Scratch.HandOver("."); err != nil {
			return nil, fmt.Errorf("sandbox scratch: %w", err)
		}
		st, err := newStage(id.GID)
		if err != nil {
			return nil, err
		}
		sb.stage, from = st, st.bind
		sb.cred = &syscall.Credential{Uid: uint32(id.UID), Gid: uint32(id.GID), Groups: []uint32{}}
	}
	fail := func(err error) (Sandbox, error) {
		if sb.stage != nil {
			sb.stage.remove()
		}
		return nil, err
	}
	args := baseArgs(lim.Tmp)
	for _, p := range spec.ReadOnly {
		if !filepath.IsAbs(p) {
			return fail(fmt.Errorf("read-only mount %q is not absolute", p))
		}
		src, err := from(p, true)
		if err != nil {
			return fail(err)
		}
		args = append(args, "--ro-bind", src, p)
	}
	src, err := from(spec.Scratch.Dir(), false)
	if err != nil {
		return fail(err)
	}
	args = append(args, "--bind", src, BuildRoot)
	// The root is a tmpfs the sandbox's uid owns: without this, /, /etc and
	// /root would be writable too, not only the scratch and /tmp.
	args = append(args, "--remount-ro", "/")
	sb.args = args
	sb.restock() // the first step's launch, made while the job gets ready
	return sb, nil
}

type nsSandbox struct {
	bwrap   string
	args    []string
	pool    *groupPool
	lim     Limits
	scratch *Scratch
	stage   *stage              // nil: nothing staged (not root)
	cred    *syscall.Credential // who bubblewrap runs as; nil: the service's uid
	mu      sync.Mutex
	live    map[stepCgroup]bool
	closed  bool
	// spare is the next step's launch, made while the previous step's
	// results are handled: putting a process into a control group costs
	// about 10 ms on cgroup v1 (the kernel waits out an RCU grace period),
	// more than bubblewrap itself, so it is kept off the step's own time.
	spare    chan *launch
	restocks sync.WaitGroup // launches being made; Close waits for them
}

// launch is one step made ready to run: its control group, and in it a
// shell at a gate: it reads bubblewrap's command line, shell-quoted, from
// stdin until EOF, then execs it. Nothing of the step can fork outside its
// group, since the shell is in the group before the gate opens.
// (bubblewrap 0.8's own --args takes options only, not the command.)
type launch struct {
	cg      stepCgroup
	cmd     *exec.Cmd
	gateW   *os.File // the command line, then EOF, opens the gate
	statusR *os.File // bubblewrap's --json-status-fd 3
	filterR *os.File // the seccomp program (--seccomp 4), nil without one
	log     *capWriter
}

// prepare makes a launch: the step's group, and the gated shell in it.
func (s *nsSandbox) prepare() (*launch, error) {
	cg, err := s.pool.get(s.lim)
	if err != nil {
		return nil, err
	}
	l := &launch{cg: cg, log: &capWriter{}}
	var toClose []*os.File // the child's ends, closed once it has them
	fail := func(err error) (*launch, error) {
		for _, f := range append(toClose, l.gateW, l.statusR, l.filterR) {
			if f != nil {
				f.Close()
			}
		}
		if l.cmd != nil && l.cmd.Process != nil {
			syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
			l.cmd.Wait()
		}
		s.pool.put(cg)
		return nil, err
	}
	pipe := func(what string) (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("sandbox: %s pipe: %w", what, err)
		}
		return r, w, nil
	}
	gateR, gateW, err := pipe("gate")
	if err != nil {
		return fail(err)
	}
	l.gateW, toClose = gateW, append(toClose, gateR)
	statusR, statusW, err := pipe("status")
	if err != nil {
		return fail(err)
	}
	l.statusR, toClose = statusR, append(toClose, statusW)
	var filterR *os.File
	if prog := seccompProgram(); prog != nil {
		// The filter is a few KiB: it fits in the pipe's
		// buffer, so it is written whole before bwrap reads it.
		r, w, err := pipe("seccomp")
		if err != nil {
			return fail(err)
		}
		_, err = w.Write(prog)
		w.Close()
		if err != nil {
			r.Close()
			return fail(fmt.Errorf("sandbox: seccomp pipe: %w", err))
		}
		filterR, l.filterR = r, r
	} else {
		// bwrap is not given --seccomp then; fd 4 is only a placeholder.
		filterR, err = os.Open(os.DevNull)
		if err != nil {
			return fail(err)
		}
		toClose = append(toClose, filterR)
	}
	// umask is inherited, not a bwrap option: the gate's shell sets it
	// for bwrap and so for the step.
	// An empty command line (the gate closed unused) ends the shell.
	cmd := exec.Command("/bin/sh", "-c", `umask 022 && cmd=$(cat) && [ -n "$cmd" ] && eval "exec $cmd"`)
	cmd.Env = []string{}
	cmd.Stdin = gateR
	cmd.Stdout, cmd.Stderr = l.log, l.log
	cmd.ExtraFiles = []*os.File{statusW, filterR} // fds 3, 4
	// --die-with-parent and Pdeathsig end the sandbox with the service;
	// WaitDelay stops a leftover pipe holder from blocking Wait.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	cmd.WaitDelay = 5 * time.Second
	l.cmd = cmd
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("sandbox: start bubblewrap: %w", err))
	}
	for _, f := range toClose {
		f.Close()
	}
	toClose = nil
	if err := cg.Add(cmd.Process.Pid); err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	return l, nil
}

// discard ends a launch that will not run.
func (s *nsSandbox) discard(l *launch) {
	l.gateW.Close()
	syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
	l.cmd.Wait()
	l.statusR.Close()
	if l.filterR != nil {
		l.filterR.Close()
	}
	s.pool.put(l.cg)
}

// take returns the next launch. One is always being made or ready (Open
// and every Exec start the next one, and a sandbox runs one step at a
// time), so take waits for it: it is never later than a new one would be.
// A restock that failed hands over nil, and take makes its own, which
// reports the error.
func (s *nsSandbox) take() (*launch, error) {
	if l := <-s.spare; l != nil {
		return l, nil
	}
	return s.prepare()
}

// restock makes the next launch in the background and hands it over;
// once the sandbox is closed it ends it instead (and hands over nil, so
// that nothing waits for it).
func (s *nsSandbox) restock() {
	s.restocks.Add(1)
	go func() {
		defer s.restocks.Done()
		l, err := s.prepare()
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if err != nil || closed {
			if l != nil {
				s.discard(l)
			}
			l = nil
		}
		s.spare <- l
	}()
}

// Exec implements Sandbox.
func (s *nsSandbox) Exec(ctx context.Context, c Command) (ExecResult, error) {
	if len(c.Argv) == 0 {
		return ExecResult{}, errors.New("sandbox: empty command")
	}
	args := append([]string{}, s.args...)
	args = append(args, "--clearenv")
	for _, kv := range c.Env {
		k, v, ok := cut(kv)
		if !ok {
			return ExecResult{}, fmt.Errorf("sandbox: bad environment entry %q", kv)
		}
		args = append(args, "--setenv", k, v)
	}
	if c.Dir != "" {
		args = append(args, "--chdir", c.Dir)
	}
	// bwrap reports {"exit-code": N} on this fd only once the command has
	// run; without it the sandbox failed (or was killed), whatever the
	// command printed.
	args = append(args, "--json-status-fd", "3")
	if seccompProgram() != nil {
		args = append(args, "--seccomp", "4")
	}
	// bwrap sets PWD after its own --clearenv: a shell in the sandbox
	// drops it unless asked for, so that the environment is exactly c.Env.
	args = append(args, "--")
	if !slices.ContainsFunc(c.Env, func(kv string) bool { return strings.HasPrefix(kv, "PWD=") }) {
		args = append(args, "/bin/sh", "-c", `unset PWD; exec "$0" "$@"`)
	}
	args = append(args, c.Argv...)
	var line bytes.Buffer
	line.WriteString(shellQuote(s.bwrap))
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return ExecResult{}, fmt.Errorf("sandbox: NUL byte in argument %q", a)
		}
		line.WriteByte(' ')
		line.WriteString(shellQuote(a))
	}

	if c.Timeout <= 0 {
		c.Timeout = time.Hour
	}
	if err := ctx.Err(); err != nil {
		return ExecResult{}, err
	}
	l, err := s.take()
	// Whatever happens to this step, the next one has its launch made,
	// starting now: most of making it is waiting for the kernel (moving
	// the shell into its group, about 10 ms on cgroup v1), which would
	// otherwise fall between this step and the next.
	s.restock()
	if err != nil {
		return ExecResult{}, err
	}
	cg, cmd, log, statusR := l.cg, l.cmd, l.log, l.statusR
	if l.filterR != nil {
		defer l.filterR.Close()
	}
	defer statusR.Close()
	if !s.track(cg, true) {
		s.discard(l)
		return ExecResult{}, errors.New("sandbox: closed")
	}
	defer func() {
		s.track(cg, false)
		s.pool.put(cg)
	}()
	log.mu.Lock()
	log.limit = c.LogLimit
	log.mu.Unlock()
	// The command line may outgrow the pipe's buffer: write it while the
	// gate reads.
	start := time.Now()
	go func() {
		l.gateW.Write(line.Bytes())
		l.gateW.Close()
	}()

	w := watchStep(ctx, c, s.lim, s.scratch, log, func() { cg.Kill() })
	err = cmd.Wait()
	hit := w.stop()
	// bwrap has exited and the pid namespace's processes with it; the
	// group is ended anyway, and must be empty, before the step is over.
	killErr := cg.Kill()
	statusR.SetReadDeadline(time.Now().Add(time.Second))
	status, _ := io.ReadAll(io.LimitReader(statusR, 64<<10))
	res := ExecResult{Log: log.buf.Bytes(), LogTruncated: log.dropped > 0, Duration: time.Since(start), MemoryPeak: cg.MemoryPeak()}
	if log.dropped > 0 {
		res.Log = append(res.Log, fmt.Sprintf("\n[pysmoke: log truncated, %d more bytes dropped]\n", log.dropped)...)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if killErr != nil {
		return res, fmt.Errorf("sandbox: the step's processes could not be ended: %w", killErr)
	}
	switch {
	case hit != "":
		res.LimitHit = hit
	case cg.OOMKills() > 0:
		res.LimitHit = LimitMemory
	case cg.PidsRefused():
		res.LimitHit = LimitPids
	case s.scratch.Full():
		res.LimitHit = LimitDisk
	}
	if hit == LimitTimeout || hit == LimitNoOutput {
		res.TimedOut, res.ExitCode = true, -1
		return res, nil
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		// No exit code from bwrap: it failed to set the sandbox up (and
		// said why in a "bwrap:" line before anything ran) or was killed
		// (by a limit, or by Close). A command's own "bwrap:" line is not
		// the sandbox's failure.
		if !bytes.Contains(status, []byte(`"exit-code"`)) {
			if hit != "" || res.LimitHit == LimitMemory {
				res.ExitCode = -1
				return res, nil
			}
			if bytes.HasPrefix(res.Log, []byte("bwrap: ")) {
				return res, fmt.Errorf("sandbox: %s", bytes.TrimSpace(firstLine(res.Log)))
			}
			return res, fmt.Errorf("sandbox: bubblewrap: %w", err)
		}
	default:
		return res, fmt.Errorf("sandbox: wait: %w", err)
	}
	return res, nil
}

func (s *nsSandbox) track(g stepCgroup, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		s.live = map[stepCgroup]bool{}
	}
	if on {
		if s.closed {
			return false
		}
		s.live[g] = true
	} else {
		delete(s.live, g)
	}
	return true
}

// Close implements Sandbox: it ends every running step's group, and the
// spare launch once it is made.
func (s *nsSandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	var first error
	for g := range s.live {
		if err := g.Kill(); err != nil && first == nil {
			first = err
		}
	}
	s.mu.Unlock()
	s.restocks.Wait()
	select {
	case l := <-s.spare:
		if l != nil {
			s.discard(l)
		}
	default:
	}
	// Every process of the sandbox has ended: its mounts can go.
	if s.stage != nil {
		if err := s.stage.remove(); err != nil && first == nil {
			first = err
		}
		s.stage = nil
	}
	return first
}
