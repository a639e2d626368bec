package sandbox

// Tests of the bubblewrap backend against the real thing: each payload is
// a small Python or shell program whose expected failure (an errno, a
// missing path) is asserted exactly, with a control (on the host, or a
// neighbouring case inside) showing that the payload itself works.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
)

// requireNamespace returns the namespace backend, or skips when it cannot
// run here; under CI a missing sandbox is a failure, never a skip.
func requireNamespace(t testing.TB) *Namespace {
	t.Helper()
	b := &Namespace{}
	testenv.Require(t, "namespace sandbox", b.Available(context.Background()))
	return b
}

// sandboxPython is the interpreter the sandbox tests run: 3.11, found as
// the service finds interpreters (pyenv's root is $PYENV_ROOT or ~/.pyenv).
func sandboxPython(t testing.TB) interpreter.Interpreter {
	return testenv.Python(t, "3.11")
}

// testScratch makes a scratch as b makes them for jobs (as root: a
// filesystem of its own, the sandbox's), removed when the test ends.
func testScratch(t testing.TB, b Backend) *Scratch {
	t.Helper()
	sc, err := b.NewScratch(t.TempDir(), Limits{})
	if err != nil {
		t.Fatalf("NewScratch: %v", err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

// nsFixture is one open sandbox with Python 3.11 mounted.
type nsFixture struct {
	sb      Sandbox
	scratch string
	in      interpreter.Interpreter
	env     []string
}

func newNSFixture(t *testing.T) *nsFixture {
	t.Helper()
	b := requireNamespace(t)
	in := sandboxPython(t)
	sc := testScratch(t, b)
	sb, err := b.Open(context.Background(), Spec{Scratch: sc, ReadOnly: []string{in.Prefix}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	return &nsFixture{sb: sb, scratch: sc.Dir(), in: in, env: []string{
		"PATH=" + in.Prefix + "/bin:/usr/bin:/bin", "HOME=" + BuildRoot, "LANG=C.UTF-8",
	}}
}

// exec runs c (with the fixture's environment and a 60 s limit unless set)
// and fails the test on a machinery error.
func (f *nsFixture) exec(t *testing.T, c Command) ExecResult {
	t.Helper()
	if c.Env == nil {
		c.Env = f.env
	}
	if c.Timeout == 0 {
		c.Timeout = time.Minute
	}
	res, err := f.sb.Exec(context.Background(), c)
	if err != nil {
		t.Fatalf("Exec(%q): %v\n%s", c.Argv, err, res.Log)
	}
	return res
}

// py runs Python code in the sandbox and decodes the JSON it prints last.
func (f *nsFixture) py(t *testing.T, out any, code string, args ...string) ExecResult {
	t.Helper()
	res := f.exec(t, Command{Argv: append([]string{f.in.Path, "-I", "-c", code}, args...)})
	if res.ExitCode != 0 {
		t.Fatalf("python exited %d:\n%s", res.ExitCode, res.Log)
	}
	if out != nil {
		decodeLastLine(t, res.Log, out)
	}
	return res
}

func decodeLastLine(t *testing.T, log []byte, out any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), out); err != nil {
		t.Fatalf("payload output %q: %v", log, err)
	}
}

// hostPython runs the same payload outside the sandbox, as the control.
func hostPython(t *testing.T, in interpreter.Interpreter, out any, code string, args ...string) {
	t.Helper()
	b, err := exec.Command(in.Path, append([]string{"-I", "-c", code}, args...)...).Output()
	if err != nil {
		t.Fatalf("control run on the host: %v", err)
	}
	decodeLastLine(t, b, out)
}

const visibilityPayload = `
import json, os, sys
def read(p):
    try:
        with open(p, "rb") as f:
            return f.read().decode("latin-1")
    except OSError as e:
        return "error: " + e.strerror
print(json.dumps({
    "exists": {p: os.path.lexists(p) for p in sys.argv[1:]},
    "root": sorted(os.listdir("/")),
    "etc": sorted(os.listdir("/etc")),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "environ1": read("/proc/1/environ"),
    "cmdline1": read("/proc/1/cmdline"),
}))
`

type visibility struct {
	Exists   map[string]bool
	Root     []string
	Etc      []string
	Pids     []int
	Environ1 string
	Cmdline1 string
}

func TestNamespaceSeesOnlyMounts(t *testing.T) {
	t.Setenv("PYSMOKE_TEST_SECRET", "hunter2-visibility")
	f := newNSFixture(t)
	wd, _ := os.Getwd()
	other, _ := filepath.Glob("/root/.pyenv/versions/3.1[23]*") // interpreters not mounted
	hostOnly := append([]string{
		"/etc/passwd", "/etc/hostname", "/var/run/docker.sock", "/run/docker.sock",
		f.scratch, filepath.Join(wd, "namespace.go"),
	}, other...)
	probe := append([]string{"/root/.ssh", "/etc/shadow", "/etc/resolv.conf", "/etc/hosts", "/var", "/run", "/home", "/sys", "/work"}, hostOnly...)

	// Control: the payload sees the host's files when run on the host.
	var host visibility
	hostPython(t, f.in, &host, visibilityPayload, probe...)
	for _, p := range hostOnly {
		if !host.Exists[p] {
			t.Errorf("control: the payload does not see %s on the host", p)
		}
	}

	var in visibility
	f.py(t, &in, visibilityPayload, probe...)
	for _, p := range probe {
		if in.Exists[p] {
			t.Errorf("%s is visible in the sandbox", p)
		}
	}
	if !slices.Equal(in.Etc, []string{"ld.so.cache"}) {
		t.Errorf("/etc in the sandbox holds %q; want only ld.so.cache", in.Etc)
	}
	allowed := []string{"bin", "build", "dev", "etc", "lib", "lib64", "proc", "root", "sbin", "tmp", "usr"}
	for _, e := range in.Root {
		if !slices.Contains(allowed, e) {
			t.Errorf("/%s exists in the sandbox", e)
		}
	}
	// A pid namespace of its own: its init, and the payload.
	if len(in.Pids) > 3 {
		t.Errorf("the sandbox sees pids %v; want only its own few", in.Pids)
	}
	if in.Cmdline1 == host.Cmdline1 || !strings.Contains(in.Cmdline1, "bwrap") {
		t.Errorf("/proc/1/cmdline in the sandbox is %q (host's init: %q); want the sandbox's own init", in.Cmdline1, host.Cmdline1)
	}
	if strings.Contains(in.Environ1, "hunter2") || strings.Contains(in.Environ1, "PATH=") {
		t.Errorf("/proc/1/environ in the sandbox holds the service's environment: %q", in.Environ1)
	}
}

const networkPayload = `
import json, socket, sys
def connect(host, port, family=socket.AF_INET, kind=socket.SOCK_STREAM):
    s = socket.socket(family, kind)
    s.settimeout(5)
    try:
        s.connect((host, port))
        if kind == socket.SOCK_DGRAM:
            s.send(b"x")
        return "connected"
    except OSError as e:
        return e.errno
    finally:
        s.close()
res = {
    "tcp": connect("1.1.1.1", 443),
    "udp": connect("1.1.1.1", 53, kind=socket.SOCK_DGRAM),
    "metadata": connect("169.254.169.254", 80),
    "tcp6": connect("2606:4700:4700::1111", 443, socket.AF_INET6),
    "host_loopback": connect("127.0.0.1", int(sys.argv[1])),
}
try:
    socket.getaddrinfo("pypi.org", 443)
    res["dns"] = "resolved"
except socket.gaierror as e:
    res["dns"] = e.errno
# Controls inside: numeric lookups need no resolver, loopback is up.
res["numeric"] = socket.getaddrinfo("1.1.1.1", 443, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
res["own_loopback"] = connect("127.0.0.1", l.getsockname()[1])
print(json.dumps(res))
`

func TestNamespaceNetwork(t *testing.T) {
	f := newNSFixture(t)
	// A service listening on the host's loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	if c, err := net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatalf("control: the host service does not answer: %v", err)
	} else {
		c.Close()
	}

	var got map[string]any
	f.py(t, &got, networkPayload, port)
	const enetunreach, econnrefused = float64(syscall.ENETUNREACH), float64(syscall.ECONNREFUSED)
	want := map[string]any{
		"tcp": enetunreach, "udp": enetunreach, "metadata": enetunreach, "tcp6": enetunreach,
		// The sandbox's own loopback, where nothing listens.
		"host_loopback": econnrefused,
		"numeric":       "1.1.1.1", "own_loopback": "connected",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	// EAI_AGAIN (-3) with no resolver configured; EAI_NONAME (-2) would do.
	if dns := got["dns"]; dns != float64(-3) && dns != float64(-2) {
		t.Errorf("dns: got %v, want gaierror -3 or -2", dns)
	}
}

const writePayload = `
import json, sys
res = {}
for p in sys.argv[1:]:
    try:
        with open(p, "w") as f:
            f.write("planted")
        res[p] = "written"
    except OSError as e:
        res[p] = e.errno
print(json.dumps(res))
`

func TestNamespaceReadOnly(t *testing.T) {
	f := newNSFixture(t)
	site := filepath.Join(f.in.Prefix, "lib", "python"+f.in.Minor, "site-packages")
	readOnly := []string{
		filepath.Join(site, "evil.pth"),
		filepath.Join(site, "sitecustomize.py"),
		filepath.Join(f.in.Prefix, "lib", "python"+f.in.Minor, "__pycache__", "os.cpython-311.pyc"),
		filepath.Join(f.in.Prefix, "bin", "python3"),
		"/usr/evil", "/usr/bin/python3", "/usr/lib/evil.so",
		"/etc/ld.so.cache", "/etc/evil", "/evil", "/root/evil",
	}
	writable := []string{"/build/ok", "/tmp/ok"}
	var got map[string]any
	f.py(t, &got, writePayload, append(readOnly, writable...)...)
	for _, p := range readOnly {
		if got[p] != float64(syscall.EROFS) {
			t.Errorf("write to %s: got %v, want EROFS (%d)", p, got[p], syscall.EROFS)
		}
	}
	for _, p := range writable {
		if got[p] != "written" {
			t.Errorf("control: write to %s: got %v, want written", p, got[p])
		}
	}
	for _, p := range readOnly {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("planted")) {
			t.Errorf("%s was planted on the host", p)
		}
	}
}

func TestNamespaceScratchAndPrivateTmp(t *testing.T) {
	f := newNSFixture(t)
	first := f.exec(t, Command{Argv: []string{"/bin/sh", "-c", `
		mkdir -p /build/sub && echo from-sandbox > /build/sub/hello.txt &&
		echo tmp > /tmp/left-by-first && test -e /tmp/left-by-first && echo first-ok`}})
	if first.ExitCode != 0 || !bytes.Contains(first.Log, []byte("first-ok")) {
		t.Fatalf("first step: exit %d: %s", first.ExitCode, first.Log)
	}
	if b, err := os.ReadFile(filepath.Join(f.scratch, "sub", "hello.txt")); err != nil || string(b) != "from-sandbox\n" {
		t.Errorf("scratch on the host: %q, %v; want the file written at /build", b, err)
	}
	// The host's side reaches the sandbox too, as the job's later steps need.
	if err := os.WriteFile(filepath.Join(f.scratch, "from-host"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := f.exec(t, Command{Argv: []string{"/bin/sh", "-c", `
		cat /build/sub/hello.txt /build/from-host; ls -A /tmp; test ! -e /tmp/left-by-first && echo tmp-clean`}})
	if second.ExitCode != 0 || string(second.Log) != "from-sandbox\nhost\ntmp-clean\n" {
		t.Errorf("second step: exit %d, log %q; want the scratch files and an empty /tmp", second.ExitCode, second.Log)
	}
}

func TestNamespaceEnvironmentIsExactlyCommandEnv(t *testing.T) {
	t.Setenv("PYSMOKE_TEST_SECRET", "hunter2-env")
	f := newNSFixture(t)
	env := []string{"PATH=/usr/bin:/bin", "HOME=/build/home", "LANG=C.UTF-8", "EMPTY=", "WITH_EQUALS=a=b", "SPACES=x y  z"}
	res := f.exec(t, Command{Argv: []string{"/usr/bin/env"}, Env: env, Dir: "/build"})
	got := strings.Split(strings.TrimSuffix(string(res.Log), "\n"), "\n")
	slices.Sort(got)
	want := slices.Sorted(slices.Values(env))
	if !slices.Equal(got, want) {
		t.Errorf("env in the sandbox:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var pyEnv map[string]string
	f.py(t, &pyEnv, `import json, os; print(json.dumps(dict(os.environ)))`)
	if _, leaked := pyEnv["PYSMOKE_TEST_SECRET"]; leaked || len(pyEnv) != len(f.env) {
		t.Errorf("python sees %v; want exactly %q", pyEnv, f.env)
	}
}

// TestNamespaceIdentity: a step is uid and gid 65534 with no capability
// and no_new_privs inside; on the host (the service being root) it is the
// sandbox's identity, never root: a file it makes is that uid's, it
// cannot write the sysctls, and it runs under a seccomp filter.
func TestNamespaceIdentity(t *testing.T) {
	f := newNSFixture(t)
	res := f.exec(t, Command{Argv: []string{"/bin/sh", "-c", "id -u; id -g; touch /build/made; cat /proc/self/status"}})
	lines := strings.Split(string(res.Log), "\n")
	if len(lines) < 2 || lines[0] != "65534" || lines[1] != "65534" {
		t.Fatalf("uid/gid in the sandbox: %q; want 65534 65534", lines[:min(2, len(lines))])
	}
	status := map[string]string{}
	for _, l := range lines[2:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			status[k] = strings.TrimSpace(v)
		}
	}
	for k, want := range map[string]string{
		"Uid": "65534\t65534\t65534\t65534", "Gid": "65534\t65534\t65534\t65534",
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
	} {
		if status[k] != want {
			t.Errorf("%s: %q, want %q", k, status[k], want)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(f.scratch, "made"), &st); err != nil {
		t.Fatal(err)
	}
	want := uint32(os.Getuid())
	if os.Geteuid() == 0 {
		id, _ := DefaultIdentity()
		want = uint32(id.UID)
	}
	if st.Uid != want || st.Uid == 0 {
		t.Errorf("the step's file is uid %d on the host; want %d, never 0", st.Uid, want)
	}
	// The sysctls are the kernel's, not the sandbox's: read-only, even
	// for writing back what is there (core_pattern, read first as a
	// control) or for dropping the caches (harmless, were it allowed).
	for p, write := range map[string]string{
		"/proc/sys/kernel/core_pattern": `v=$(cat "$0") && { printf '%s\n' "$v" > "$0"; } 2>&1; echo "rc=$?"`,
		"/proc/sys/vm/drop_caches":      `{ echo 1 > "$0"; } 2>&1; echo "rc=$?"`,
	} {
		res := f.exec(t, Command{Argv: []string{"/bin/sh", "-c", write, p}})
		if !strings.Contains(string(res.Log), "Read-only file system") || !strings.Contains(string(res.Log), "rc=2") {
			t.Errorf("%s: writing it: %q; want a read-only file system", p, res.Log)
		}
	}
}

func TestNamespaceTimeout(t *testing.T) {
	f := newNSFixture(t)
	marker := testenv.Marker(t)
	// Ignores SIGTERM, and leaves a child holding the output pipe.
	code := `import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.fork()
print("sleeping", flush=True)
time.sleep(600)`
	// 5 s: room for the payload to start on a loaded machine. That Exec
	// did not wait for the child holding the pipe shows as its result: a
	// wait cut short by the WaitDelay is a machinery error.
	res, err := f.sb.Exec(context.Background(), Command{Argv: []string{f.in.Path, "-c", code, marker}, Env: f.env, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if !res.TimedOut || res.ExitCode != -1 {
		t.Errorf("TimedOut %v, ExitCode %d; want true, -1", res.TimedOut, res.ExitCode)
	}
	if !bytes.Contains(res.Log, []byte("sleeping")) {
		t.Errorf("control: the payload never ran: %q", res.Log)
	}
	// When Exec returns, nothing of the step is left: no waiting.
	if left := testenv.ProcsWith(marker); len(left) != 0 {
		t.Errorf("processes left when Exec returned: %v", left)
	}
}

func TestNamespaceContextCancel(t *testing.T) {
	f := newNSFixture(t)
	marker := testenv.Marker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := f.sb.Exec(ctx, Command{Argv: []string{"/bin/sh", "-c", "sleep 600", marker}, Env: f.env, Timeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec with an ended context: %v; want context.DeadlineExceeded", err)
	}
	if left := testenv.ProcsWith(marker); len(left) != 0 {
		t.Errorf("processes left when Exec returned: %v", left)
	}
}

const daemonPayload = `
import os, sys, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(r)
        if sys.argv[1] == "detach":
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
        with open("/build/daemon.pid", "w") as f:
            f.write(str(os.getpid()))
        os.write(w, b"up")
        os.close(w)
        while True:
            time.sleep(3600)
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
assert os.read(r, 2) == b"up"
print("setup.py done, daemon left behind", flush=True)
`

func TestNamespaceDaemonDoesNotOutliveStep(t *testing.T) {
	for _, mode := range []string{"keeps-output-pipe", "detach"} {
		t.Run(mode, func(t *testing.T) {
			f := newNSFixture(t)
			marker := testenv.Marker(t)
			// f.exec fails the test on a machinery error, which is what
			// a wait cut short by the WaitDelay would be: the step ends
			// with its command, not with the daemon.
			res := f.exec(t, Command{Argv: []string{f.in.Path, "-c", daemonPayload, mode, marker}})
			if res.ExitCode != 0 || res.TimedOut || !bytes.Contains(res.Log, []byte("daemon left behind")) {
				t.Errorf("exit %d, timed out %v: %s", res.ExitCode, res.TimedOut, res.Log)
			}
			// Control: the daemon really started.
			if _, err := os.Stat(filepath.Join(f.scratch, "daemon.pid")); err != nil {
				t.Errorf("control: the daemon never started: %v", err)
			}
			if left := testenv.ProcsWith(marker); len(left) != 0 {
				t.Errorf("processes left when Exec returned: %v", left)
			}
		})
	}
}

func TestNamespaceCloseKillsRunningStep(t *testing.T) {
	f := newNSFixture(t)
	marker := testenv.Marker(t)
	done := make(chan error, 1)
	go func() {
		_, err := f.sb.Exec(context.Background(), Command{Argv: []string{"/bin/sh", "-c", "touch /build/started; sleep 600", marker}, Env: f.env, Timeout: time.Minute})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(f.scratch, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.sb.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("Exec of a step ended by Close: %v; want the machinery's error saying it was killed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Exec still waiting 3 s after Close")
	}
	testenv.NoProcs(t, marker)
}

func TestNamespaceLogCap(t *testing.T) {
	f := newNSFixture(t)
	const size = 1 << 20
	res := f.exec(t, Command{Argv: []string{"/bin/sh", "-c", fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x", size)}, LogLimit: 1000})
	if res.ExitCode != 0 || !res.LogTruncated {
		t.Errorf("exit %d, LogTruncated %v; want 0, true", res.ExitCode, res.LogTruncated)
	}
	if len(res.Log) < 1000 || len(res.Log) > 1100 {
		t.Errorf("log is %d bytes; want the 1000 kept plus a short note", len(res.Log))
	}
	if len(res.Log) >= 1000 && string(res.Log[:1000]) != strings.Repeat("x", 1000) {
		t.Errorf("the log does not start with the command's first 1000 bytes")
	}
	if note := fmt.Sprintf("[pysmoke: log truncated, %d more bytes dropped]", size-1000); !bytes.Contains(res.Log, []byte(note)) {
		t.Errorf("log ends %q; want %q", res.Log[max(0, len(res.Log)-80):], note)
	}

	// Without a limit, everything is kept, stdout and stderr alike.
	res = f.exec(t, Command{Argv: []string{"/bin/sh", "-c", fmt.Sprintf("echo to-stderr >&2; head -c %d /dev/zero", size)}})
	if res.LogTruncated || len(res.Log) != size+len("to-stderr\n") || !bytes.HasPrefix(res.Log, []byte("to-stderr\n")) {
		t.Errorf("unlimited log: %d bytes, truncated %v; want all %d", len(res.Log), res.LogTruncated, size+len("to-stderr\n"))
	}
}

func TestNamespaceExitCodes(t *testing.T) {
	f := newNSFixture(t)
	cases := []struct {
		name string
		argv []string
		want int
		log  string
	}{
		{"success", []string{"/bin/sh", "-c", "exit 0"}, 0, ""},
		{"exit 3", []string{"/bin/sh", "-c", "exit 3"}, 3, ""},
		{"exit 255", []string{"/bin/sh", "-c", "exit 255"}, 255, ""},
		{"python sys.exit", []string{f.in.Path, "-c", "import sys; sys.exit(42)"}, 42, ""},
		{"python traceback", []string{f.in.Path, "-c", "raise SystemError('boom')"}, 1, "SystemError: boom"},
		{"killed by a signal", []string{"/bin/sh", "-c", "kill -9 $$"}, 128 + 9, ""},
		{"command not found", []string{"/nonexistent/python"}, 127, "/nonexistent/python"},
		{"working directory", []string{"/bin/sh", "-c", "pwd; test \"$(pwd)\" = /build"}, 0, "/build\n"},
		// The package's output must not pass for the sandbox's own failure.
		{"output imitating bwrap", []string{"/bin/sh", "-c", "echo \"bwrap: Can't mount proc on /newroot/proc: Operation not permitted\" >&2; exit 1"}, 1, "bwrap: Can't mount proc"},
	}
	// A step whose folder is missing never ran: the sandbox's failure,
	// not an exit code of the command's.
	t.Run("missing folder", func(t *testing.T) {
		res, err := f.sb.Exec(context.Background(), Command{Argv: []string{"/bin/sh", "-c", "echo ran"}, Env: f.env, Dir: "/build/missing", Timeout: time.Minute})
		if err == nil || strings.Contains(string(res.Log), "ran") {
			t.Errorf("got exit %d, err %v, log %q; want an error and no run", res.ExitCode, err, res.Log)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.sb.Exec(context.Background(), Command{Argv: tc.argv, Env: f.env, Dir: "/build", Timeout: time.Minute})
			if err != nil {
				t.Fatalf("Exec: %v (a command's failure is a result, not an error)", err)
			}
			if res.ExitCode != tc.want || res.TimedOut || !strings.Contains(string(res.Log), tc.log) {
				t.Errorf("exit %d, timed out %v, log %q; want exit %d with %q", res.ExitCode, res.TimedOut, res.Log, tc.want, tc.log)
			}
		})
	}
}

func TestNamespaceMachineryErrors(t *testing.T) {
	b := requireNamespace(t)
	ctx := context.Background()
	scratch := testScratch(t, b)

	if _, err := b.Open(ctx, Spec{}); err == nil || !strings.Contains(err.Error(), "no scratch") {
		t.Errorf("Open without a scratch: %v", err)
	}
	if _, err := b.Open(ctx, Spec{Scratch: scratch, ReadOnly: []string{"usr/lib"}}); err == nil || !strings.Contains(err.Error(), `read-only mount "usr/lib" is not absolute`) {
		t.Errorf("Open with a relative mount: %v", err)
	}

	// A missing mount source is the machinery's error: at Open where
	// the service stages it (as root), else bwrap's own complaint at the
	// first Exec.
	sb, err := b.Open(ctx, Spec{Scratch: scratch, ReadOnly: []string{"/nonexistent/pysmoke-python"}})
	if err == nil {
		_, err = sb.Exec(ctx, Command{Argv: []string{"/bin/true"}, Timeout: time.Minute})
		sb.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/pysmoke-python") {
		t.Errorf("a missing mount source: %v; want the machinery's error naming it", err)
	}
	sb, err = b.Open(ctx, Spec{Scratch: scratch})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	for _, c := range []Command{
		{},
		{Argv: []string{"/bin/true"}, Env: []string{"NOEQUALS"}},
		{Argv: []string{"/bin/true"}, Env: []string{"=value"}},
	} {
		if _, err := sb.Exec(ctx, c); err == nil || !(strings.Contains(err.Error(), "empty command") || strings.Contains(err.Error(), "bad environment entry")) {
			t.Errorf("Exec(%+v): %v; want a refusal", c, err)
		}
	}
}

// stubBackend is a backend that is or is not available, for Select.
type stubBackend struct {
	name string
	err  error
}

func (b stubBackend) Name() string                        { return b.name }
func (b stubBackend) Available(ctx context.Context) error { return b.err }
func (b stubBackend) Open(context.Context, Spec) (Sandbox, error) {
	return nil, errors.New("stub backend")
}
func (b stubBackend) NewScratch(string, Limits) (*Scratch, error) {
	return nil, errors.New("stub backend")
}

func TestSelect(t *testing.T) {
	ns := requireNamespace(t)
	noDocker := stubBackend{"docker", errors.New("the Docker engine does not answer at /var/run/docker.sock")}
	noBwrap := &Namespace{Bwrap: "/nonexistent/bwrap"}
	ctx := context.Background()
	cases := []struct {
		name     string
		ask      string
		backends []Backend
		want     Backend
		why      string
		err      string
	}{
		{"auto picks namespace", "auto", []Backend{ns}, ns, "the first available backend", ""},
		{"auto says what it passed over", "auto", []Backend{noDocker, ns}, ns, "the first available backend (docker: the Docker engine does not answer at /var/run/docker.sock)", ""},
		{"by name", "namespace", []Backend{noDocker, ns}, ns, "asked for by name", ""},
		{"unknown name", "podman", []Backend{noDocker, ns}, nil, "", `unknown sandbox "podman" (choose auto or one of: docker, namespace)`},
		{"named but unavailable", "docker", []Backend{noDocker, ns}, nil, "", "no sandbox can run here: docker: the Docker engine does not answer"},
		{"none available", "auto", []Backend{noDocker, noBwrap}, nil, "", "no sandbox can run here: docker: the Docker engine does not answer at /var/run/docker.sock; namespace: bubblewrap (/nonexistent/bwrap) not found: install Debian's bubblewrap package"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why, err := Select(ctx, tc.ask, tc.backends...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("Select(%q) = %v, %q, %v; want error %q", tc.ask, got, why, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || why != tc.why {
				t.Errorf("Select(%q) = %v, %q, %v; want %v, %q", tc.ask, got, why, err, tc.want, tc.why)
			}
		})
	}
}
