package runner

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
// the job's scratch, a private /tmp), as an unprivileged uid, with no network
// but loopback. Starting it costs about 15 ms, so each step gets its own
// process tree while the job's scratch carries the tree between steps.
type Namespace struct {
	// Bwrap is the bubblewrap executable; empty means "bwrap" on PATH.
	Bwrap string
}

var _ Backend = (*Namespace)(nil)

// Name implements Backend.
func (n *Namespace) Name() string { return "namespace" }

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

// Available implements Backend: it starts a real sandbox and checks that
// it has no network.
func (n *Namespace) Available(ctx context.Context) error {
	bw, err := n.bwrap()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bw, append(baseArgs(), "--", "/bin/sh", "-c", "test ! -e /var/run/docker.sock && echo ok")...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("ok")) {
		return fmt.Errorf("bubblewrap cannot make namespaces here (user namespaces disabled, or not root?): %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// baseArgs is the root every sandbox starts from.
func baseArgs() []string {
	return []string{
		"--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
		"--die-with-parent", "--new-session",
		"--ro-bind", "/usr", "/usr",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
		"--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
		"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
	}
}

// Open implements Backend.
func (n *Namespace) Open(ctx context.Context, spec Spec) (Sandbox, error) {
	bw, err := n.bwrap()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(spec.Scratch); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sandbox scratch %q is not a directory: %v", spec.Scratch, err)
	}
	args := baseArgs()
	for _, p := range spec.ReadOnly {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("read-only mount %q is not absolute", p)
		}
		args = append(args, "--ro-bind", p, p)
	}
	args = append(args, "--bind", spec.Scratch, BuildRoot)
	// The root is a tmpfs the sandbox's uid owns: without this, /, /etc and
	// /root would be writable too, not only the scratch and /tmp.
	args = append(args, "--remount-ro", "/")
	return &nsSandbox{bwrap: bw, args: args}, nil
}

type nsSandbox struct {
	bwrap string
	args  []string
	mu    sync.Mutex
	live  map[*exec.Cmd]bool
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
	// umask is inherited, not a bwrap option: set it in a shell that then
	// becomes the command. The shell exports PWD: drop it unless asked for,
	// so that the environment is exactly c.Env.
	script := `umask 022 && exec "$0" "$@"`
	if !slices.ContainsFunc(c.Env, func(kv string) bool { return strings.HasPrefix(kv, "PWD=") }) {
		script = "unset PWD; " + script
	}
	args = append(args, "--", "/bin/sh", "-c", script)
	args = append(args, c.Argv...)

	if c.Timeout <= 0 {
		c.Timeout = time.Hour
	}
	runCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, s.bwrap, args...)
	cmd.Env = []string{}
	log := &capWriter{limit: c.LogLimit}
	cmd.Stdout, cmd.Stderr = log, log
	// bwrap is the sandbox's outside: killing it kills the pid namespace's
	// init (--die-with-parent), and with it every process of the step,
	// daemons included. WaitDelay stops a leftover pipe holder from
	// blocking Wait.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	statusR, statusW, err := os.Pipe()
	if err != nil {
		return ExecResult{}, fmt.Errorf("sandbox: status pipe: %w", err)
	}
	defer statusR.Close()
	cmd.ExtraFiles = []*os.File{statusW} // fd 3

	start := time.Now()
	err = cmd.Start()
	statusW.Close()
	if err != nil {
		return ExecResult{}, fmt.Errorf("sandbox: start bubblewrap: %w", err)
	}
	s.track(cmd, true)
	err = cmd.Wait()
	s.track(cmd, false)
	// bwrap has exited and the pid namespace's processes with it; the
	// deadline only guards against a holder of the fd we do not know of.
	statusR.SetReadDeadline(time.Now().Add(time.Second))
	status, _ := io.ReadAll(io.LimitReader(statusR, 64<<10))
	res := ExecResult{Log: log.buf.Bytes(), LogTruncated: log.dropped > 0, Duration: time.Since(start)}
	if log.dropped > 0 {
		res.Log = append(res.Log, fmt.Sprintf("\n[pysmoke: log truncated, %d more bytes dropped]\n", log.dropped)...)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if runCtx.Err() != nil {
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
		// by Close. Either is the machinery's failure; a command's own
		// "bwrap:" line is not.
		if !bytes.Contains(status, []byte(`"exit-code"`)) {
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

func (s *nsSandbox) track(c *exec.Cmd, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		s.live = map[*exec.Cmd]bool{}
	}
	if on {
		s.live[c] = true
	} else {
		delete(s.live, c)
	}
}

// Close implements Sandbox.
func (s *nsSandbox) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.live {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	return nil
}

// capWriter keeps the first limit bytes written and counts the rest.
type capWriter struct {
	mu      sync.Mutex
	limit   int64
	buf     bytes.Buffer
	dropped int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.limit - int64(w.buf.Len())
	if w.limit <= 0 {
		room = int64(len(p))
	}
	switch {
	case room >= int64(len(p)):
		w.buf.Write(p)
	case room > 0:
		w.buf.Write(p[:room])
		w.dropped += int64(len(p)) - room
	default:
		w.dropped += int64(len(p))
	}
	return len(p), nil
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], i > 0
		}
	}
	return "", "", false
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
