package runner

// The hostile-package suite (docs/sandbox.md): each case
// is a tiny sdist whose setup.py (or archive) attacks the machine, run
// as a whole job through Runner.Run on both backends: every step, and all
// of the host's handling of the scratch around them. Each case asserts the specific
// error or reason it expects, and has a control: the same payload run on
// the host against a safe target (this machine's loopback or metadata
// address, a temporary folder, a bounded version of a resource payload),
// or for archives the same sdist without its hostile member, so that a
// broken payload cannot pass for a working sandbox. After every case: no
// step group or container left, no marked process left, the scratch gone,
// an HTTP service of the test still answering. Around the whole suite the
// interpreter trees hash the same.

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/sandbox"
)

// hostileCase is one attack.
type hostileCase struct {
	name, group string
	// payload is the body of main(res, ARGS) in setup.py, run during the
	// sdist step only; it records what it saw in res.
	payload string
	args    map[string]any // ARGS in the sandbox
	// control are the ARGS of the control run on the host (nil: the case
	// has no host control, see controlNote); checkControl asserts it.
	control      map[string]any
	checkControl func(t *testing.T, got map[string]any)
	// archive builds the sdist's members from the normal ones, for the
	// archive cases; the control is the sdist without the extra members.
	archive func(normal []tarMember) []tarMember
	zip     bool
	gzBomb  bool
	// hugeZip: the sdist is a zip of a million entries, and nothing else.
	hugeZip bool
	// build: the package really builds (setuptools), so that the steps
	// after sdist do what a release's do; requires are its
	// install_requires, met from the suite's index.
	build    bool
	requires []string
	// watchImage: record how far the scratch's image grows on the host
	// while the job runs (hostileRun.imageMax).
	watchImage bool
	opts       Options // limits and timeouts of the case (Backend, ScratchDir set by the suite)
	all        bool    // on every interpreter, not only 3.11
	runs       int     // jobs run one after another (default 1)
	marker     bool    // ARGS["marker"] is a fresh marker no host process may hold afterwards
	// check asserts the outcome; got is what the payload recorded in the
	// (last) run.
	check func(t *testing.T, c *hostileRun)
}

type hostileRun struct {
	backend  string
	in       interpreter.Interpreter
	res      Result
	got      map[string]any
	runs     []map[string]any
	sdist    StepResult
	elapsed  time.Duration
	heapUp   int64
	imageMax int64 // bytes the scratch's image took on the host at most
}

// step returns the result of a step of the (last) run.
func (c *hostileRun) step(name string) StepResult {
	for _, s := range c.res.Steps {
		if s.Name == name {
			return s
		}
	}
	return StepResult{}
}

// setupTemplate runs the payload in the sdist step (and in the host's
// control); in the other steps a case's package has nothing to build (a
// quick failure of its own), unless it asks to build for real.
const setupTemplate = `import json, os, sys
ARGS = json.loads(%s)
def main(res, ARGS):
%s
if "sdist" in sys.argv or os.environ.get("PYSMOKE_CONTROL"):
    res = {}
    try:
        main(res, ARGS)
    finally:
        sys.stdout.write("\nPYSMOKE-RESULT " + json.dumps(res) + "\n")
        sys.stdout.flush()
if os.environ.get("PYSMOKE_CONTROL"):
    sys.exit(0)
if ARGS.get("_build"):
    from setuptools import setup
    setup(name="pkg", version="1.0", py_modules=["pkgmod"], install_requires=ARGS.get("_requires", []))
elif "sdist" not in sys.argv:
    sys.exit("hostile case: nothing to build here")
`

func setupPy(payload string, args map[string]any) string {
	b, _ := json.Marshal(args)
	q, _ := json.Marshal(string(b)) // a JSON string is a Python string literal here
	var body []string
	for _, l := range strings.Split(strings.Trim(payload, "\n"), "\n") {
		body = append(body, "    "+l)
	}
	return fmt.Sprintf(setupTemplate, q, strings.Join(body, "\n"))
}

func payloadResult(t *testing.T, log []byte) map[string]any {
	t.Helper()
	i := bytes.LastIndex(log, []byte("PYSMOKE-RESULT "))
	if i < 0 {
		return nil
	}
	line := log[i+len("PYSMOKE-RESULT "):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Errorf("payload result %q: %v", line, err)
	}
	return got
}

// tarMember is one member of a test sdist.
type tarMember struct {
	name string
	typ  byte
	mode int64
	body string
	link string
}

func writeSdist(t *testing.T, dir, name string, members []tarMember, asZip, bomb bool) string {
	t.Helper()
	var buf bytes.Buffer
	if asZip {
		zw := zip.NewWriter(&buf)
		for _, m := range members {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Deflate})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, m.body)
		}
		zw.Close()
	} else {
		gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		tw := tar.NewWriter(gz)
		for _, m := range members {
			typ := m.typ
			if typ == 0 {
				typ = tar.TypeReg
			}
			h := &tar.Header{Name: m.name, Typeflag: typ, Mode: m.mode, Linkname: m.link, Size: int64(len(m.body)), ModTime: time.Unix(315532800, 0)}
			if typ != tar.TypeReg {
				h.Size = 0
			}
			if typ == tar.TypeChar {
				h.Devmajor, h.Devminor = 1, 3
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			io.WriteString(tw, m.body)
		}
		if bomb {
			// 256 MiB of zeros: a few hundred KiB compressed.
			tw.WriteHeader(&tar.Header{Name: "bomb-1.0/zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: 256 << 20})
			zeros := make([]byte, 1<<20)
			for i := 0; i < 256; i++ {
				tw.Write(zeros)
			}
		}
		tw.Close()
		gz.Close()
	}
	ext := ".tar.gz"
	if asZip {
		ext = ".zip"
	}
	p := filepath.Join(dir, name+"-1.0"+ext)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func normalMembers(pkg, setup string) []tarMember {
	return []tarMember{
		{name: pkg + "-1.0/", typ: tar.TypeDir, mode: 0o755},
		{name: pkg + "-1.0/setup.py", mode: 0o644, body: setup},
		{name: pkg + "-1.0/pkgmod.py", mode: 0o644, body: "VALUE = 1\n"},
		{name: pkg + "-1.0/PKG-INFO", mode: 0o644, body: "Metadata-Version: 1.0\nName: " + pkg + "\nVersion: 1.0\n"},
	}
}

// hostileEnv is what the cases share: the host service they attack, the
// fake secrets, the listeners of the controls.
type hostileEnv struct {
	tcpPort, udpPort, tcp6Port int
	serviceData                string // a fake service data folder on the host
	secret                     string
	http                       *httptest.Server
	// index serves hostdep, a dependency published only as an sdist (so
	// that a job unpacks and builds it in the scratch), and index is a
	// client of it into mirror.
	index *index.Client
	// planted is a host folder the link cases point into: nothing may
	// read, list or write it from a job.
	planted string
	// hugeZip is a zip sdist of a million entries, written once before
	// the backends run (writing it takes a few hundred MiB of heap, which
	// would fall into another case's measure).
	hugeZip string
}

func newHostileEnv(t *testing.T) *hostileEnv {
	e := &hostileEnv{secret: "hunter2-" + testenv.Marker(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	e.tcpPort = ln.Addr().(*net.TCPAddr).Port
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		t.Cleanup(func() { ln6.Close() })
		go func() {
			for {
				c, err := ln6.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		e.tcp6Port = ln6.Addr().(*net.TCPAddr).Port
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	e.udpPort = pc.LocalAddr().(*net.UDPAddr).Port
	e.serviceData = t.TempDir()
	os.WriteFile(filepath.Join(e.serviceData, "pysmoke.toml"), []byte("token = \""+e.secret+"\"\n"), 0o600)
	os.WriteFile(filepath.Join(e.serviceData, "pysmoke.db"), []byte("SQLite format 3\x00"+e.secret), 0o600)
	e.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(e.http.Close)

	e.hugeZip = writeHugeZip(t, t.TempDir(), 1000000)
	runtime.GC()
	e.planted = t.TempDir()
	if err := os.WriteFile(filepath.Join(e.planted, "host-secret.txt"), []byte(e.secret), 0o600); err != nil {
		t.Fatal(err)
	}
	ix, err := localindex.New(t.TempDir(), localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dep := t.TempDir()
	os.WriteFile(filepath.Join(dep, "setup.py"), []byte("from setuptools import setup\nsetup(name='hostdep', version='1.0', py_modules=['hostdep'])\n"), 0o644)
	os.WriteFile(filepath.Join(dep, "hostdep.py"), []byte("VALUE = 2\n"), 0o644)
	sdist, err := localindex.WriteSdist(t.TempDir(), dep, "hostdep", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(sdist)
	if err := ix.AddFile(filepath.Base(sdist), b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	t.Cleanup(srv.Close)
	e.index, err = index.New(index.Options{URL: srv.URL, MirrorDir: t.TempDir(), RateLimit: -1, Logger: nopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// plantedIntact checks that the planted folder holds only what the suite
// put there, unread since: no job wrote, removed or read anything of it.
func (e *hostileEnv) plantedIntact(t *testing.T, before time.Time) {
	t.Helper()
	ents, err := os.ReadDir(e.planted)
	if err != nil || len(ents) != 1 || ents[0].Name() != "host-secret.txt" {
		t.Errorf("the host folder the links pointed into holds %v (%v); want only host-secret.txt", ents, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.planted, "host-secret.txt"), &st); err == nil {
		if at := time.Unix(st.Atim.Sec, st.Atim.Nsec); at.After(before) {
			t.Errorf("host-secret.txt was read during the job (atime %s)", at)
		}
	}
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func wantErrno(t *testing.T, what string, got any, want ...syscall.Errno) {
	t.Helper()
	for _, w := range want {
		if num(got) == int(w) && got != nil {
			return
		}
	}
	t.Errorf("%s: errno %v; want %v", what, got, want)
}

func wantStep(t *testing.T, sr StepResult, st outcome.Status, reason string) {
	t.Helper()
	if sr.Status != st || sr.Reason != reason {
		t.Errorf("step %s: %s %s (%s); want %s %s\n%s", sr.Name, sr.Status, sr.Reason, sr.Detail, st, reason, tail(sr.Log, 1500))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

const errnoOf = `
def errno_of(fn):
    try:
        fn()
        return 0
    except EnvironmentError as e:
        return e.errno
`

func hostileCases(e *hostileEnv) []hostileCase {
	connect := errnoOf + `
import socket
def tcp():
    s = socket.socket(socket.AF_INET6 if ":" in ARGS["host"] else socket.AF_INET)
    s.settimeout(5)
    s.connect((ARGS["host"], ARGS["port"]))
    s.close()
res["errno"] = errno_of(tcp)
if res["errno"]:
    tcp()
`
	write := errnoOf + `
for p in ARGS["paths"]:
    def w():
        with open(p, "w") as f:
            f.write("planted")
    res[os.path.basename(p)] = errno_of(w)
`
	tmp := os.TempDir()
	shadowReadable := func(t *testing.T, got map[string]any) {
		if got["readable"] != true {
			t.Errorf("control: the link to /etc/shadow does not resolve on the host: %v", got)
		}
	}
	okErrno := func(t *testing.T, got map[string]any) {
		if num(got["errno"]) != 0 || got["errno"] == nil {
			t.Errorf("control: %v; want errno 0", got)
		}
	}
	allWritten := func(t *testing.T, got map[string]any) {
		for k, v := range got {
			if num(v) != 0 {
				t.Errorf("control: write %s: errno %v", k, v)
			}
		}
		if len(got) == 0 {
			t.Error("control: nothing written")
		}
	}
	netFailed := func(want ...syscall.Errno) func(*testing.T, *hostileRun) {
		return func(t *testing.T, c *hostileRun) {
			wantErrno(t, "connect", c.got["errno"], want...)
			wantStep(t, c.sdist, outcome.Failed, outcome.ReasonNeedsNetwork)
		}
	}
	return []hostileCase{
		// Network.
		{name: "tcp-public", group: "network", all: true, payload: connect,
			args: map[string]any{"host": "1.1.1.1", "port": 443}, control: map[string]any{"host": "127.0.0.1", "port": e.tcpPort}, checkControl: okErrno,
			check: netFailed(syscall.ENETUNREACH)},
		{name: "udp-public", group: "network", payload: errnoOf + `
import socket
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((ARGS["host"], ARGS["port"]))
    s.send(b"x")
res["errno"] = errno_of(udp)
if res["errno"]:
    udp()
`, args: map[string]any{"host": "1.1.1.1", "port": 53}, control: map[string]any{"host": "127.0.0.1", "port": e.udpPort}, checkControl: okErrno,
			check: netFailed(syscall.ENETUNREACH)},
		{name: "tcp-ipv6", group: "network", payload: connect,
			args: map[string]any{"host": "2606:4700:4700::1111", "port": 443}, control: map[string]any{"host": "::1", "port": e.tcp6Port}, checkControl: okErrno,
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "connect", c.got["errno"], syscall.ENETUNREACH, syscall.EADDRNOTAVAIL, syscall.EAFNOSUPPORT)
				if num(c.got["errno"]) == int(syscall.ENETUNREACH) {
					wantStep(t, c.sdist, outcome.Failed, outcome.ReasonNeedsNetwork)
				} else {
					wantStep(t, c.sdist, outcome.Failed, outcome.ReasonExitStatus)
				}
			}},
		{name: "dns", group: "network", payload: `
import socket
try:
    socket.getaddrinfo(ARGS["name"], 443)
    res["gai"] = 0
except socket.gaierror as e:
    res["gai"] = e.errno
    raise
`, args: map[string]any{"name": "pypi.org"}, control: map[string]any{"name": "localhost"},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["gai"]) != 0 {
					t.Errorf("control: resolving localhost on the host: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				if g := num(c.got["gai"]); g != -3 && g != -2 && g != -5 {
					t.Errorf("getaddrinfo: %v; want EAI_AGAIN, EAI_NONAME or EAI_NODATA", c.got["gai"])
				}
				wantStep(t, c.sdist, outcome.Failed, outcome.ReasonNeedsNetwork)
			}},
		{name: "metadata-169.254.169.254", group: "network", payload: connect,
			args: map[string]any{"host": "169.254.169.254", "port": 80}, control: map[string]any{"host": "169.254.169.254", "port": 80}, checkControl: okErrno,
			check: netFailed(syscall.ENETUNREACH)},
		{name: "host-loopback-service", group: "network", payload: connect,
			args: map[string]any{"host": "127.0.0.1", "port": e.tcpPort}, control: map[string]any{"host": "127.0.0.1", "port": e.tcpPort}, checkControl: okErrno,
			check: func(t *testing.T, c *hostileRun) {
				// The sandbox's own loopback, where nothing listens.
				wantErrno(t, "connect", c.got["errno"], syscall.ECONNREFUSED)
				wantStep(t, c.sdist, outcome.Failed, outcome.ReasonExitStatus)
			}},
		{name: "docker-socket", group: "network", payload: errnoOf + `
import socket
def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect(ARGS["path"])
res["errno"] = errno_of(unix)
`, args: map[string]any{"path": "/var/run/docker.sock"}, control: map[string]any{"path": "/var/run/docker.sock"}, checkControl: okErrno,
			check: func(t *testing.T, c *hostileRun) { wantErrno(t, "connect", c.got["errno"], syscall.ENOENT) }},
		{name: "unix-sockets-under-run", group: "network", payload: `
import socket, stat
res["connected"] = []
for top in ("/run", "/var/run", "/tmp"):
    for d, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            try:
                if not stat.S_ISSOCK(os.lstat(p).st_mode):
                    continue
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(2)
                s.connect(p)
                res["connected"].append(p)
            except Exception:
                pass
`, args: map[string]any{}, control: map[string]any{},
			checkControl: func(t *testing.T, got map[string]any) {
				if l, _ := got["connected"].([]any); len(l) == 0 {
					t.Errorf("control: no Unix socket connectable under /run on the host: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				if l, _ := c.got["connected"].([]any); len(l) != 0 || c.got["connected"] == nil {
					t.Errorf("connected to %v from the sandbox", c.got["connected"])
				}
			}},

		// Secrets.
		{name: "service-environment", group: "secrets", all: true, payload: `res["env"] = dict(os.environ)`,
			args: map[string]any{}, control: map[string]any{},
			checkControl: func(t *testing.T, got map[string]any) {
				if env, _ := got["env"].(map[string]any); env["PYSMOKE_TEST_SECRET"] != e.secret {
					t.Errorf("control: the host run does not see the service's secret")
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				env, _ := c.got["env"].(map[string]any)
				var keys []string
				for k := range env {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				// The sdist step's: the step environment, as the build
				// environment (a venv, or Python 2's user base) sets it.
				var want []string
				es := &environments{in: c.in, base: stepEnv(c.in, 0)}
				for _, kv := range es.newEnvironment("build", sandbox.BuildRoot+"/env/build").env {
					k, _, _ := strings.Cut(kv, "=")
					want = append(want, k)
				}
				sort.Strings(want)
				if !slices.Equal(keys, want) {
					t.Errorf("environment in the sandbox has %q; want exactly the allowlist %q", keys, want)
				}
				// Of the service, only the run's id (none here).
				if env["PYSMOKE_RUN_ID"] != "0" {
					t.Errorf("PYSMOKE_RUN_ID in the sandbox is %v, want 0", env["PYSMOKE_RUN_ID"])
				}
			}},
		{name: "root-home-and-ssh", group: "secrets", payload: `
try:
    res["root"] = sorted(os.listdir("/root"))
except OSError as e:
    res["root"] = e.errno
try:
    res["ssh"] = sorted(os.listdir("/root/.ssh"))
except OSError as e:
    res["ssh"] = e.errno
try:
    res["cache"] = sorted(os.listdir("/root/.cache"))
except OSError as e:
    res["cache"] = e.errno
`, args: map[string]any{}, control: map[string]any{},
			checkControl: func(t *testing.T, got map[string]any) {
				if l, _ := got["root"].([]any); len(l) < 2 {
					t.Errorf("control: /root on the host lists %v", got["root"])
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				// At most the interpreters' .pyenv and the toolchain's
				// .cache (mounted at their own paths), and the image's own
				// skeleton files on Docker: nothing else of the host's.
				mounted := []string{".pyenv", ".cache", ".bashrc", ".profile"}
				host, _ := os.ReadDir("/root")
				l, _ := c.got["root"].([]any)
				for _, e := range host {
					if n := e.Name(); !slices.Contains(mounted, n) && slices.Contains(l, any(n)) {
						t.Errorf("the host's /root/%s is visible in the sandbox", n)
					}
				}
				for _, n := range l {
					if !slices.Contains(mounted, fmt.Sprint(n)) {
						t.Errorf("/root/%v exists in the sandbox", n)
					}
				}
				if cache, _ := c.got["cache"].([]any); len(cache) > 1 || (len(cache) == 1 && cache[0] != "pysmoke") {
					t.Errorf("/root/.cache in the sandbox holds %v; want only the toolchain's pysmoke folder", cache)
				}
				wantErrno(t, "/root/.ssh", c.got["ssh"], syscall.ENOENT)
			}},
		{name: "service-config-and-database", group: "secrets", payload: errnoOf + `
for p in ARGS["paths"]:
    try:
        with open(p, "rb") as f:
            res[os.path.basename(p)] = f.read().decode("latin-1")
    except EnvironmentError as e:
        res[os.path.basename(p)] = e.errno
`, args: map[string]any{"paths": []string{filepath.Join(e.serviceData, "pysmoke.toml"), filepath.Join(e.serviceData, "pysmoke.db")}},
			control: map[string]any{"paths": []string{filepath.Join(e.serviceData, "pysmoke.toml"), filepath.Join(e.serviceData, "pysmoke.db")}},
			checkControl: func(t *testing.T, got map[string]any) {
				for k, v := range got {
					if s, _ := v.(string); !strings.Contains(s, e.secret) {
						t.Errorf("control: %s on the host: %v", k, v)
					}
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "config", c.got["pysmoke.toml"], syscall.ENOENT)
				wantErrno(t, "database", c.got["pysmoke.db"], syscall.ENOENT)
			}},
		{name: "proc-environ", group: "secrets", payload: `
found = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open("/proc/%s/environ" % p, "rb") as f:
                if ARGS["secret"].encode() in f.read():
                    found.append(p)
        except EnvironmentError:
            pass
res["found"] = found
`, args: map[string]any{"secret": e.secret}, control: map[string]any{"secret": e.secret},
			checkControl: func(t *testing.T, got map[string]any) {
				if l, _ := got["found"].([]any); len(l) == 0 {
					t.Errorf("control: no /proc/*/environ on the host holds the secret")
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				if l, _ := c.got["found"].([]any); len(l) != 0 || c.got["found"] == nil {
					t.Errorf("/proc/%v/environ in the sandbox holds the service's secret", c.got["found"])
				}
			}},
		{name: "host-processes", group: "secrets", payload: `
cmds = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmds.append(f.read().decode("latin-1"))
        except EnvironmentError:
            pass
res["cmds"] = cmds
`, args: map[string]any{}, control: map[string]any{},
			checkControl: func(t *testing.T, got map[string]any) {
				if l, _ := got["cmds"].([]any); len(l) < 10 || !strings.Contains(fmt.Sprint(l), filepath.Base(os.Args[0])) {
					t.Errorf("control: the host run does not see the test's process among %d", len(l))
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				l, _ := c.got["cmds"].([]any)
				if len(l) > 6 || strings.Contains(fmt.Sprint(l), filepath.Base(os.Args[0])) {
					t.Errorf("the sandbox sees %d processes: %q", len(l), l)
				}
			}},

		// Writes.
		{name: "write-etc", group: "writes", payload: write,
			args: map[string]any{"paths": []string{"/etc/evil", "/etc/ld.so.preload"}}, control: map[string]any{"paths": []string{filepath.Join(tmp, "pysmoke-ctl-etc-evil")}}, checkControl: allWritten,
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "/etc/evil", c.got["evil"], syscall.EROFS, syscall.EACCES)
				wantErrno(t, "/etc/ld.so.preload", c.got["ld.so.preload"], syscall.EROFS, syscall.EACCES)
			}},
		{name: "write-usr", group: "writes", payload: write,
			args: map[string]any{"paths": []string{"/usr/lib/evil.so", "/usr/bin/python3"}}, control: map[string]any{"paths": []string{filepath.Join(tmp, "pysmoke-ctl-usr-evil")}}, checkControl: allWritten,
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "/usr/lib/evil.so", c.got["evil.so"], syscall.EROFS)
				wantErrno(t, "/usr/bin/python3", c.got["python3"], syscall.EROFS, syscall.EACCES, syscall.ETXTBSY)
			}},
		{name: "site-packages-pth", group: "writes", all: true, payload: errnoOf + `
# The interpreter's own site-packages, not the build environment's venv.
lib = os.path.join(getattr(sys, "base_prefix", sys.prefix), "lib", "python%d.%d" % sys.version_info[:2])
d = ARGS.get("dir") or os.path.join(lib, "site-packages")
for n in ("evil.pth", "sitecustomize.py"):
    def w():
        with open(os.path.join(d, n), "w") as f:
            f.write("import os; os.system('echo pwned')")
    res[n] = errno_of(w)
`, args: map[string]any{}, control: map[string]any{"dir": tmp}, checkControl: allWritten,
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "evil.pth", c.got["evil.pth"], syscall.EROFS)
				wantErrno(t, "sitecustomize.py", c.got["sitecustomize.py"], syscall.EROFS)
			}},
		{name: "pycache-and-interpreter", group: "writes", payload: errnoOf + `
import importlib.util
# The interpreter's own, not the build environment's venv.
base = getattr(sys, "base_prefix", sys.prefix)
lib = os.path.join(base, "lib", "python%d.%d" % sys.version_info[:2])
exe = os.path.join(base, "bin", os.path.basename(os.path.realpath(sys.executable)))
targets = ARGS.get("targets") or {"pyc": importlib.util.cache_from_source(os.path.join(lib, "os.py")), "python": exe}
for k, p in targets.items():
    def w():
        with open(p, "wb") as f:
            f.write(b"planted")
    res[k] = errno_of(w)
`, args: map[string]any{}, control: map[string]any{"targets": map[string]string{"pyc": filepath.Join(tmp, "pysmoke-ctl.pyc")}}, checkControl: allWritten,
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "__pycache__", c.got["pyc"], syscall.EROFS)
				wantErrno(t, "interpreter", c.got["python"], syscall.EROFS, syscall.ETXTBSY)
			}},
		{name: "home-and-tmp-persist", group: "writes", runs: 2, payload: `
paths = [os.path.join(os.environ.get("HOME", "/nonexistent"), ".persist"), os.path.join(ARGS.get("tmp") or "/tmp", ".persist")]
res["seen"] = [os.path.exists(p) for p in paths]
for p in paths:
    with open(p, "w") as f:
        f.write("left by an earlier run")
res["written"] = True
`, args: map[string]any{}, control: map[string]any{"tmp": "HOME"},
			check: func(t *testing.T, c *hostileRun) {
				for i, r := range c.runs {
					if r["written"] != true {
						t.Errorf("run %d: the payload did not write its markers: %v", i+1, r)
					}
					if s, _ := r["seen"].([]any); len(s) != 2 || s[0] != false || s[1] != false {
						t.Errorf("run %d sees HOME/tmp markers of an earlier run: %v", i+1, r["seen"])
					}
				}
			}},

		// Resources.
		{name: "fork-bomb", group: "resources", payload: `
import time
n = 0
while n < ARGS["max"]:
    try:
        pid = os.fork()
    except OSError as e:
        res["errno"] = e.errno
        res["forked"] = n
        raise
    if pid == 0:
        time.sleep(ARGS["sleep"])
        os._exit(0)
    n += 1
res["forked"] = n
`, args: map[string]any{"max": 100000, "sleep": 600}, control: map[string]any{"max": 5, "sleep": 0.1},
			opts: Options{Limits: sandbox.Limits{Pids: 64}},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["forked"]) != 5 {
					t.Errorf("control: forked %v; want 5", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "fork", c.got["errno"], syscall.EAGAIN)
				if n := num(c.got["forked"]); n > 64 || n < 10 {
					t.Errorf("forked %d processes; want under the pids limit of 64", n)
				}
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonPids)
			}},
		{name: "memory-hog", group: "resources", payload: `
chunks = []
while len(chunks) < ARGS["chunks"]:
    chunks.append(b"x" * (16 << 20))
res["allocated_mib"] = 16 * len(chunks)
`, args: map[string]any{"chunks": 100000}, control: map[string]any{"chunks": 4},
			opts: Options{Limits: sandbox.Limits{Memory: 256 << 20}},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["allocated_mib"]) != 64 {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonMemory)
				if c.got != nil && c.got["allocated_mib"] != nil {
					t.Errorf("the hog finished: %v", c.got)
				}
			}},
		{name: "disk-filler-scratch", group: "resources", payload: `
p = os.path.join(ARGS.get("dir") or os.getcwd(), "fill")
with open(p, "wb") as f:
    for i in range(ARGS["mib"]):
        f.write(b"\1" * (1 << 20))
res["written_mib"] = ARGS["mib"]
`, args: map[string]any{"mib": 100000}, control: map[string]any{"mib": 4, "dir": "HOME"},
			opts: Options{Limits: sandbox.Limits{Disk: 64 << 20}},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["written_mib"]) != 4 {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) { wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonDisk) }},
		{name: "fallocate-ten-times-the-cap", group: "resources", watchImage: true, payload: errnoOf + `
p = os.path.join(ARGS.get("dir") or os.getcwd(), "big")
def fill():
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.posix_fallocate(fd, 0, ARGS["bytes"])
    finally:
        os.close(fd)
res["errno"] = errno_of(fill)
if res["errno"]:
    fill()
`, args: map[string]any{"bytes": 640 << 20}, control: map[string]any{"bytes": 4 << 20, "dir": "HOME"},
			opts:         Options{Limits: sandbox.Limits{Disk: 64 << 20}},
			checkControl: okErrno,
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "fallocate", c.got["errno"], syscall.ENOSPC)
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonDisk)
				// What the job cost the filesystem of the service's data:
				// at most its scratch's image, capped at 64 MiB.
				if c.imageMax > 64<<20 {
					t.Errorf("the scratch's image took %d MiB on the host; want at most the 64 MiB cap", c.imageMax>>20)
				}
				if c.imageMax == 0 {
					t.Error("no scratch image seen while the job ran")
				}
			}},
		{name: "tmp-filler", group: "resources", payload: errnoOf + `
n = [0]
def fill():
    with open(os.path.join(ARGS.get("dir") or "/tmp", "fill"), "wb") as f:
        while n[0] < ARGS["mib"]:
            f.write(b"\1" * (1 << 20))
            f.flush()
            n[0] += 1
res["errno"] = errno_of(fill)
res["written_mib"] = n[0]
`, args: map[string]any{"mib": 100000}, control: map[string]any{"mib": 4, "dir": "HOME"},
			opts: Options{Limits: sandbox.Limits{Tmp: 16 << 20}},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["written_mib"]) != 4 || num(got["errno"]) != 0 {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "write /tmp", c.got["errno"], syscall.ENOSPC)
				if n := num(c.got["written_mib"]); n > 16 {
					t.Errorf("wrote %d MiB to a 16 MiB /tmp", n)
				}
			}},
		{name: "cpu-burn-every-core", group: "resources", payload: `
import time
t0 = time.time()
pids = []
for i in range(ARGS["n"]):
    pid = os.fork()
    if pid == 0:
        end = time.time() + ARGS["secs"]
        while time.time() < end:
            pass
        os._exit(0)
    pids.append(pid)
for p in pids:
    os.waitpid(p, 0)
wall = time.time() - t0
c = os.times()
res["cpu_secs"] = c[2] + c[3]
res["cores_used"] = (c[2] + c[3]) / wall
`, args: map[string]any{"n": 4, "secs": 2}, control: map[string]any{"n": 1, "secs": 1},
			// The control proves the measure (a burner's CPU time is
			// counted); how many cores the host has free varies with its
			// load, so it cannot show the unlimited figure reliably.
			checkControl: func(t *testing.T, got map[string]any) {
				if c, _ := got["cpu_secs"].(float64); c < 0.2 {
					t.Errorf("control: one burner for 1 s used %.2f s of CPU on the host", c)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				if u, _ := c.got["cores_used"].(float64); u > 1.3 || u == 0 {
					t.Errorf("4 burners used %.2f cores in the sandbox; want at most the 1-core limit", u)
				}
			}},
		{name: "infinite-loop", group: "resources", payload: `
i = 0
while ARGS["forever"] or i < 1000:
    i += 1
res["i"] = i
`, args: map[string]any{"forever": true}, control: map[string]any{"forever": false},
			opts: Options{StepTimeout: 2 * time.Second},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["i"]) != 1000 {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonTimeout)
				if !strings.Contains(c.sdist.Detail, "within 2s") {
					t.Errorf("ended by %q; want the 2 s wall-clock limit", c.sdist.Detail)
				}
			}},
		{name: "sleep-forever-silently", group: "resources", payload: `
import time
time.sleep(ARGS["secs"])
res["slept"] = True
`, args: map[string]any{"secs": 3600}, control: map[string]any{"secs": 0.1},
			opts: Options{StepTimeout: time.Minute, NoOutputTimeout: time.Second},
			checkControl: func(t *testing.T, got map[string]any) {
				if got["slept"] != true {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonTimeout)
				if !strings.Contains(c.sdist.Detail, "no-output") {
					t.Errorf("ended by %q; want the 1 s no-output timeout", c.sdist.Detail)
				}
			}},
		{name: "ignores-sigterm", group: "resources", payload: `
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.kill(os.getpid(), signal.SIGTERM)
res["survived_sigterm"] = True
sys.stdout.write("PYSMOKE-RESULT " + json.dumps(res) + "\n")
sys.stdout.flush()
time.sleep(ARGS["secs"])
`, args: map[string]any{"secs": 3600}, control: map[string]any{"secs": 0.1},
			opts: Options{StepTimeout: 2 * time.Second},
			checkControl: func(t *testing.T, got map[string]any) {
				if got["survived_sigterm"] != true {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonTimeout)
				if c.got["survived_sigterm"] != true || !strings.Contains(c.sdist.Detail, "within 2s") {
					t.Errorf("payload %v, ended by %q; want it past SIGTERM and ended by the 2 s limit", c.got, c.sdist.Detail)
				}
			}},
		{name: "10GB-of-output", group: "resources", payload: `
line = b"x" * 1023 + b"\n"
out = getattr(sys.stdout, "buffer", sys.stdout)
for i in range(ARGS["mib"] * 1024):
    out.write(line)
res["printed_mib"] = ARGS["mib"]
`, args: map[string]any{"mib": 10240}, control: map[string]any{"mib": 1},
			opts: Options{Limits: sandbox.Limits{Output: 16 << 20}},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["printed_mib"]) != 1 {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonLogSize)
				// The log keeps what the step printed up to the output cap
				// (16 MiB here), where the step was ended: nearly all of
				// it, and not a byte more; the making of its environment
				// leads it.
				if !c.sdist.LogTruncated || len(c.sdist.Log) > 16<<20+64<<10 || len(c.sdist.Log) < 15<<20 {
					t.Errorf("log %d bytes, truncated %v; want the 16 MiB cap", len(c.sdist.Log), c.sdist.LogTruncated)
				}
				if c.heapUp > 64<<20 {
					t.Errorf("the service's heap grew by %d MiB", c.heapUp>>20)
				}
			}},

		// Processes.
		{name: "setsid-daemon", group: "processes", marker: true, payload: daemonSetup(true), args: map[string]any{"secs": 600}, control: map[string]any{"secs": 30},
			// The control's daemon lives long enough to be seen on a
			// loaded machine, and is ended once it has been.
			checkControl: func(t *testing.T, got map[string]any) {
				// The daemon says "up" just before it execs the marked
				// command: wait for the exec.
				var left []string
				for deadline := time.Now().Add(5 * time.Second); len(left) == 0 && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
					left = testenv.ProcsWith(got["marker"].(string))
				}
				if got["daemon"] != "up" || len(left) == 0 {
					t.Errorf("control: the daemon did not outlive setup.py on the host: %v", got)
				}
				for _, p := range left {
					pid, _, _ := strings.Cut(p, ":")
					if n, err := strconv.Atoi(pid); err == nil {
						syscall.Kill(n, syscall.SIGKILL)
					}
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				if c.got["daemon"] != "up" {
					t.Errorf("the daemon never started: %v", c.got)
				}
				wantStep(t, c.sdist, outcome.Passed, outcome.ReasonOK)
			}},
		{name: "daemon-holds-output-pipe", group: "processes", marker: true, payload: daemonSetup(false), args: map[string]any{"secs": 600}, control: map[string]any{"secs": 2},
			checkControl: func(t *testing.T, got map[string]any) {
				if got["daemon"] != "up" {
					t.Errorf("control: %v", got)
				}
			},
			// A step that waited for the daemon would end at the
			// daemon's 600 s, past the step's 1 minute: a timeout.
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.Passed, outcome.ReasonOK)
			}},
		{name: "ptrace-other-process", group: "processes", payload: `
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
r = libc.ptrace(16, ARGS["pid"], None, None)
res["errno"] = 0 if r == 0 else ctypes.get_errno()
if r == 0:
    libc.ptrace(17, ARGS["pid"], None, None)
`, args: map[string]any{"pid": os.Getpid()}, control: map[string]any{"pid": -1},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["errno"]) != 0 || got["errno"] == nil {
					t.Errorf("control: ptrace of a host process: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "ptrace the service", c.got["errno"], syscall.ESRCH, syscall.EPERM)
			}},

		{name: "kernel-attack-surface", group: "processes", payload: `
import ctypes
libc = ctypes.CDLL("libc.so.6", use_errno=True)
for name, nr in (("keyctl", 250), ("bpf", 321), ("unshare", 272), ("perf_event_open", 298)):
    r = libc.syscall(nr, 0, 0, 0, 0, 0)
    res[name] = 0 if r >= 0 else ctypes.get_errno()
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("Seccomp:"):
            res["seccomp"] = line.split()[1]
`, args: map[string]any{}, control: map[string]any{},
			checkControl: func(t *testing.T, got map[string]any) {
				for k, v := range got {
					if k != "seccomp" && num(v) == int(syscall.EPERM) {
						t.Errorf("control: %s is refused on the host too", k)
					}
				}
				if len(got) != 5 || got["seccomp"] != "0" {
					t.Errorf("control: %v; want the four calls tried and no seccomp filter on the host", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				for _, k := range []string{"keyctl", "bpf", "unshare", "perf_event_open"} {
					wantErrno(t, k, c.got[k], syscall.EPERM)
				}
				if c.got["seccomp"] != "2" {
					t.Errorf("/proc/self/status Seccomp %v; want 2, a filter", c.got["seccomp"])
				}
			}},
		{name: "sysctls", group: "processes", payload: errnoOf + `
def core():
    with open("/proc/sys/kernel/core_pattern") as f:
        v = f.read()
    with open("/proc/sys/kernel/core_pattern", "w") as f:
        f.write(v)
def caches():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1")
if ARGS.get("control"):
    # On the host (root) both are writable: asked, not written.
    res["core_pattern"] = 0 if os.access("/proc/sys/kernel/core_pattern", os.W_OK) else -1
    res["drop_caches"] = 0 if os.access("/proc/sys/vm/drop_caches", os.W_OK) else -1
else:
    res["core_pattern"] = errno_of(core)
    res["drop_caches"] = errno_of(caches)
`, args: map[string]any{}, control: map[string]any{"control": true},
			checkControl: func(t *testing.T, got map[string]any) {
				if os.Geteuid() == 0 && (num(got["core_pattern"]) != 0 || num(got["drop_caches"]) != 0) {
					t.Errorf("control: as root on the host: %v; want both writable", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantErrno(t, "core_pattern", c.got["core_pattern"], syscall.EROFS, syscall.EACCES)
				wantErrno(t, "drop_caches", c.got["drop_caches"], syscall.EROFS, syscall.EACCES)
			}},

		// Outputs.
		{name: "output-symlink-to-shadow", group: "outputs", payload: outputSetup(`
os.symlink("/etc/shadow", os.path.join(d, "x-1.0.tar.gz"))
try:
    open(os.path.join(d, "x-1.0.tar.gz")).read()
    res["readable"] = True
except EnvironmentError as e:
    res["readable"] = e.errno
`), args: map[string]any{}, control: map[string]any{"dist": "HOME"}, checkControl: shadowReadable,
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.Passed, outcome.ReasonOK)
				if len(c.sdist.Artifacts) != 0 {
					t.Errorf("collected %v; want nothing (a link is never followed)", c.sdist.Artifacts)
				}
			}},
		{name: "output-fifo", group: "outputs", payload: outputSetup(`
os.mkfifo(os.path.join(d, "x-1.0.tar.gz"))
res["fifo"] = True
`), args: map[string]any{}, control: map[string]any{"dist": "HOME"},
			checkControl: func(t *testing.T, got map[string]any) {
				if got["fifo"] != true {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.sdist, outcome.Passed, outcome.ReasonOK)
				// Opening the FIFO would block the collection for good.
				if len(c.sdist.Artifacts) != 0 {
					t.Errorf("collected %v; want nothing", c.sdist.Artifacts)
				}
			}},
		{name: "output-1TB-sparse", group: "outputs", payload: outputSetup(`
with open(os.path.join(d, "x-1.0.tar.gz"), "wb") as f:
    f.truncate(ARGS["size"])
res["size"] = os.path.getsize(os.path.join(d, "x-1.0.tar.gz"))
`), args: map[string]any{"size": 1 << 40}, control: map[string]any{"dist": "HOME", "size": 1 << 40},
			checkControl: func(t *testing.T, got map[string]any) {
				if got["size"] != float64(1<<40) {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				if len(c.sdist.Artifacts) != 0 {
					t.Errorf("collected %v; want the size cap to refuse it", c.sdist.Artifacts)
				}
			}},
		{name: "output-million-files", group: "outputs", payload: outputSetup(`
for i in range(ARGS["n"]):
    open(os.path.join(d, "f%07d" % i), "w").close()
res["files"] = ARGS["n"]
`), args: map[string]any{"n": 1000000}, control: map[string]any{"dist": "HOME", "n": 100},
			opts: Options{Limits: sandbox.Limits{DiskFiles: 5000}},
			checkControl: func(t *testing.T, got map[string]any) {
				if num(got["files"]) != 100 {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) { wantStep(t, c.sdist, outcome.ResourceLimit, outcome.ReasonDisk) }},
		{name: "output-odd-names", group: "outputs", payload: outputSetup(`
for n in ARGS["names"]:
    with open(os.path.join(d, n), "w") as f:
        f.write(n)
res["names"] = sorted(os.listdir(d))
`), args: map[string]any{"names": oddNames}, control: map[string]any{"dist": "HOME/dist", "names": oddNames},
			checkControl: func(t *testing.T, got map[string]any) {
				if l, _ := got["names"].([]any); len(l) != len(oddNames) {
					t.Errorf("control: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				var got []string
				for _, a := range c.sdist.Artifacts {
					got = append(got, a.Path)
				}
				want := slices.Sorted(slices.Values(oddNames))
				if !slices.Equal(got, want) {
					t.Errorf("collected %q; want exactly %q, names kept as they are", got, want)
				}
			}},

		// Links left in the scratch for the host: after the sdist step's
		// code ran, every folder the host makes, enters, unpacks into or
		// copies into may be a link out of the scratch.
		{name: "link-step-output-folders", group: "outputs", payload: outputSetup(`
for step in ("bdist", "wheel"):
    link = os.path.join(ARGS.get("out") or "/build/out", step)
    if not os.path.isdir(os.path.dirname(link)):
        os.makedirs(os.path.dirname(link))
    os.symlink(ARGS["planted"], link)
res["listing"] = sorted(os.listdir(link))
`), args: map[string]any{"planted": e.planted}, control: map[string]any{"dist": "HOME", "out": "HOME/out", "planted": e.planted},
			checkControl: func(t *testing.T, got map[string]any) {
				if l, _ := got["listing"].([]any); len(l) != 1 {
					t.Errorf("control: the link does not reach the host folder: %v", got)
				}
			},
			check: func(t *testing.T, c *hostileRun) {
				for _, step := range []string{outcome.StepBdist, outcome.StepWheel} {
					sr := c.step(step)
					wantStep(t, sr, outcome.Failed, outcome.ReasonTampered)
					if len(sr.Artifacts) != 0 {
						t.Errorf("%s collected %v through the link", step, sr.Artifacts)
					}
				}
			}},
		{name: "link-dependency-folders", group: "outputs", build: true, requires: []string{"hostdep"}, payload: `
import shutil
for d in ("deps", "deps-src"):
    p = os.path.join(ARGS.get("root") or "/build", d)
    # deps is there already (the build requirements were put there):
    # out of the way first.
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    os.symlink(ARGS["planted"], p)
res["planted"] = True
`, args: map[string]any{"planted": e.planted}, control: map[string]any{"root": "HOME", "planted": e.planted},
			checkControl: wantPlanted,
			check: func(t *testing.T, c *hostileRun) {
				// The release builds; the dependency (an sdist the job
				// would unpack into deps-src and copy into deps) is not
				// reached through the links.
				if c.got["planted"] != true {
					t.Errorf("the payload planted nothing: %v", c.got)
				}
				wantStep(t, c.step(outcome.StepWheel), outcome.Passed, outcome.ReasonOK)
				wantStep(t, c.step(outcome.StepImport), outcome.Failed, outcome.ReasonTampered)
			}},
		{name: "link-in-wheel-folder", group: "outputs", build: true, payload: `
d = os.path.join(ARGS.get("root") or "/build", "out", "wheel")
if not os.path.isdir(d):
    os.makedirs(d)
os.symlink(os.path.join(ARGS["planted"], "host-secret.txt"), os.path.join(d, "aaa-1.0-py3-none-any.whl"))
res["planted"] = True
`, args: map[string]any{"planted": e.planted}, control: map[string]any{"root": "HOME", "planted": e.planted},
			checkControl: wantPlanted,
			check: func(t *testing.T, c *hostileRun) {
				// The built wheel is the real one, not the link sorted
				// first; its import proves it was read and installed.
				w := c.step(outcome.StepWheel)
				wantStep(t, w, outcome.Passed, outcome.ReasonOK)
				if len(w.Artifacts) != 1 || w.Artifacts[0].Path != "pkg-1.0-py3-none-any.whl" {
					t.Errorf("wheel artifacts %v; want only the built wheel", w.Artifacts)
				}
				wantStep(t, c.step(outcome.StepImport), outcome.Passed, outcome.ReasonOK)
			}},

		// Archives: rejected before anything runs.
		{name: "archive-dotdot", group: "archives", archive: plus(tarMember{name: "pkg-1.0/../../evil", body: "x", mode: 0o644}),
			check: rejected(`has a '..' component`)},
		{name: "archive-absolute-name", group: "archives", archive: plus(tarMember{name: "/tmp/pysmoke-evil", body: "x", mode: 0o644}),
			check: rejected(`has an absolute name`)},
		{name: "archive-symlink-escape", group: "archives", archive: plus(
			tarMember{name: "pkg-1.0/etc", typ: tar.TypeSymlink, link: "/etc", mode: 0o777},
			tarMember{name: "pkg-1.0/etc/evil", body: "x", mode: 0o644}),
			check: rejected(`symlink "pkg-1.0/etc" -> "/etc" leaves the tree`)},
		{name: "archive-symlink-chain", group: "archives", archive: plus(
			tarMember{name: "pkg-1.0/a", typ: tar.TypeSymlink, link: ".", mode: 0o777},
			tarMember{name: "pkg-1.0/a/b", typ: tar.TypeSymlink, link: "../..", mode: 0o777}),
			check: rejected(`leaves the tree`)},
		{name: "archive-hardlink-outside", group: "archives", archive: plus(tarMember{name: "pkg-1.0/passwd", typ: tar.TypeLink, link: "/etc/passwd", mode: 0o644}),
			check: rejected(`hard link "pkg-1.0/passwd" -> "/etc/passwd" leaves the tree`)},
		{name: "archive-device", group: "archives", archive: plus(tarMember{name: "pkg-1.0/null", typ: tar.TypeChar, mode: 0o666}),
			check: rejected(`member "pkg-1.0/null" is a device or FIFO`)},
		{name: "archive-fifo", group: "archives", archive: plus(tarMember{name: "pkg-1.0/fifo", typ: tar.TypeFifo, mode: 0o644}),
			check: rejected(`member "pkg-1.0/fifo" is a device or FIFO`)},
		{name: "archive-decompression-bomb", group: "archives", gzBomb: true, archive: plus(),
			check: rejected(`unpacks to more than allowed`)},
		{name: "archive-zip-slip", group: "archives", zip: true, archive: plus(tarMember{name: "../../evil.py", body: "x"}),
			check: rejected(`has a '..' component`)},
		{name: "archive-million-entries-zip", group: "archives", hugeZip: true, archive: plus(),
			check: func(t *testing.T, c *hostileRun) {
				rejected("more than 20000 members")(t, c)
				// The zip's directory (a million entries) is never read.
				if c.heapUp > 64<<20 {
					t.Errorf("the service's heap grew by %d MiB rejecting it", c.heapUp>>20)
				}
			}},
		{name: "archive-setuid-cleared", group: "archives", payload: `
import stat
p = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool")
res["mode"] = stat.S_IMODE(os.lstat(p).st_mode)
`, archive: plus(tarMember{name: "pkg-1.0/tool", body: "#!/bin/sh\n", mode: 0o6777}),
			check: func(t *testing.T, c *hostileRun) {
				wantStep(t, c.res.Steps[0], outcome.Passed, outcome.ReasonOK)
				if m := num(c.got["mode"]); c.got["mode"] == nil || m&0o7022 != 0 {
					t.Errorf("tool unpacked with mode %o; want setuid, setgid, sticky and group/other write cleared", m)
				}
			}},
	}
}

var oddNames = []string{"a\nb-1.0.tar.gz", "<script>alert(1)<\\script>.whl", `q"uote'-1.0.zip`, "..dots", "sp ace.tar.gz"}

// plus builds an archive case's members: the normal sdist and extra ones.
func plus(extra ...tarMember) func([]tarMember) []tarMember {
	return func(normal []tarMember) []tarMember { return append(slices.Clone(normal), extra...) }
}

func rejected(reason string) func(*testing.T, *hostileRun) {
	return func(t *testing.T, c *hostileRun) {
		if len(c.res.Steps) != 1 {
			t.Errorf("%d steps ran; want only the unpack step", len(c.res.Steps))
		}
		wantStep(t, c.res.Steps[0], outcome.Rejected, outcome.ReasonBadSdist)
		if !strings.Contains(c.res.Steps[0].Detail, reason) {
			t.Errorf("rejected for %q; want %q", c.res.Steps[0].Detail, reason)
		}
	}
}

func outputSetup(body string) string {
	return `
d = ARGS.get("dist") or sys.argv[sys.argv.index("--dist-dir") + 1]
if not os.path.isdir(d):
    os.makedirs(d)
` + strings.Trim(body, "\n")
}

// daemonSetup leaves a daemon behind: double-forked, in a new session,
// detached from the output (detach) or holding it, running a sleep whose
// command line carries the case's marker.
func daemonSetup(detach bool) string {
	d := "False"
	if detach {
		d = "True"
	}
	return `
import time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(r)
        if ` + d + `:
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
        os.write(w, b"up")
        os.close(w)
        os.execv("/bin/sh", ["/bin/sh", "-c", "sleep %s" % ARGS["secs"], ARGS["marker"]])
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
res["daemon"] = os.read(r, 2).decode()
res["marker"] = ARGS["marker"]
`
}

// hashInterpreters hashes every file (path, mode, size, content, link
// target) of each interpreter's tree.
func hashInterpreters(t *testing.T, ins []interpreter.Interpreter) map[string]string {
	t.Helper()
	out := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			h := sha256.New()
			err := filepath.WalkDir(in.Prefix, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				fmt.Fprintf(h, "%s\x00%o\x00%d\x00", p, info.Mode(), info.Size())
				switch {
				case info.Mode()&fs.ModeSymlink != 0:
					l, _ := os.Readlink(p)
					io.WriteString(h, l)
				case info.Mode().IsRegular():
					f, err := os.Open(p)
					if err != nil {
						return err
					}
					io.Copy(h, f)
					f.Close()
				}
				return nil
			})
			if err != nil {
				t.Errorf("hash %s: %v", in.Prefix, err)
			}
			mu.Lock()
			out[in.Prefix] = hex.EncodeToString(h.Sum(nil))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func suitePythons(t *testing.T) (one interpreter.Interpreter, all []interpreter.Interpreter) {
	t.Helper()
	return testenv.Python(t, "3.11"), testenv.Pythons(t)
}

// TestHostile runs every case on both backends.
func TestHostile(t *testing.T) {
	env := newHostileEnv(t)
	t.Setenv("PYSMOKE_TEST_SECRET", env.secret)
	ns := sandboxtest.Namespace(t)
	dk := sandboxtest.Docker(t)
	one, all := suitePythons(t)
	cases := hostileCases(env)
	groups := map[string]int{}
	for _, c := range cases {
		groups[c.group]++
	}
	if len(cases) < 30 || len(groups) != 7 {
		t.Fatalf("%d cases in %d groups; want at least 30 covering all 7", len(cases), len(groups))
	}

	// The cases that concern every interpreter run, in make test, on the
	// two that differ most in how their environments are made: 2.7 (a user
	// base, not a venv) and 3.13 (no setuptools of its own, no lib2to3);
	// on Docker, whose walls do not depend on the interpreter inside, on
	// 3.13 alone. make test-full runs them on all nine on both backends.
	eachOn := map[string][]interpreter.Interpreter{ns.Name(): all, dk.Name(): all}
	if os.Getenv("PYSMOKE_TEST_FULL") == "" {
		for backend, minors := range map[string][]string{ns.Name(): {"2.7", "3.13"}, dk.Name(): {"3.13"}} {
			var some []interpreter.Interpreter
			for _, in := range all {
				if slices.Contains(minors, in.Minor) {
					some = append(some, in)
				}
			}
			if len(some) > 0 {
				eachOn[backend] = some
			}
		}
	}
	before := hashInterpreters(t, all)
	t.Run("controls", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { runControl(t, c, one, env) })
		}
	})
	t.Run("backends", func(t *testing.T) {
		for _, b := range []sandbox.Backend{ns, dk} {
			t.Run(b.Name(), func(t *testing.T) {
				t.Parallel()
				for _, c := range cases {
					ins := []interpreter.Interpreter{one}
					if c.all {
						ins = eachOn[b.Name()]
					}
					for _, in := range ins {
						name := c.group + "/" + c.name
						if c.all {
							name += "/" + in.Minor
						}
						t.Run(name, func(t *testing.T) { runHostile(t, b, c, in, env) })
					}
				}
			})
		}
	})
	after := hashInterpreters(t, all)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("interpreter tree %s changed during the suite", p)
		}
	}
}

// runControl runs the payload on the host against its safe target, or
// for archives checks that the sdist without its hostile members
// unpacks.
func runControl(t *testing.T, c hostileCase, in interpreter.Interpreter, env *hostileEnv) {
	if c.archive != nil || c.control == nil {
		if c.control == nil && c.archive == nil && c.runs == 0 {
			t.Fatalf("case %s has no control", c.name)
		}
		if c.archive != nil {
			dir := t.TempDir()
			sdist := writeSdist(t, dir, "pkg", normalMembers("pkg", setupPy("res['ran'] = True", nil)), c.zip, false)
			if err := archive.Unpack(sdist, t.TempDir(), archive.Limits{}); err != nil {
				t.Errorf("control: the sdist without its hostile members does not unpack: %v", err)
			}
		}
		return
	}
	home := t.TempDir()
	args := map[string]any{}
	for k, v := range c.control {
		if p, ok := v.(string); ok && strings.HasPrefix(p, "HOME") {
			v = home + p[len("HOME"):]
		}
		args[k] = v
	}
	if c.marker {
		args["marker"] = testenv.Marker(t)
	}
	var ptraced *exec.Cmd
	if args["pid"] == -1 {
		ptraced = exec.Command("sleep", "30")
		if err := ptraced.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { ptraced.Process.Kill(); ptraced.Wait() }()
		args["pid"] = ptraced.Process.Pid
	}
	setup := filepath.Join(home, "setup.py")
	os.WriteFile(setup, []byte(setupPy(c.payload, args)), 0o644)
	runs := max(c.runs, 1)
	for i := 0; i < runs; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, in.Path, setup)
		cmd.Dir = home
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "PYSMOKE_CONTROL=1", "PYSMOKE_TEST_SECRET=" + env.secret}
		out, _ := cmd.CombinedOutput()
		cancel()
		got := payloadResult(t, out)
		if got == nil {
			t.Fatalf("control: no result from the payload:\n%s", tail(out, 2000))
		}
		if c.runs == 2 {
			// The control of persistence: on the host the second run
			// does see what the first left.
			if s, _ := got["seen"].([]any); i == 1 && (len(s) != 2 || s[0] != true || s[1] != true) {
				t.Errorf("control: the second run on the host does not see the first's markers: %v", got)
			}
			continue
		}
		c.checkControl(t, got)
	}
}

// hostileJob runs a case's sdist as a whole job, through Runner.Run: the
// toolchain's environments, every step, the dependencies from the suite's
// index, and the host's handling of the scratch around each step.
func hostileJob(t *testing.T, b sandbox.Backend, c hostileCase, env *hostileEnv, scratchDir, sdist string, in interpreter.Interpreter) Result {
	t.Helper()
	opts := c.opts
	opts.Backend, opts.ScratchDir, opts.Toolchain, opts.Index, opts.Logger = b, scratchDir, testenv.Toolchain(t), env.index, nopLogger()
	job := Job{Project: "pkg", Version: "1.0", Sdist: sdist, Interpreter: in}
	// A case's step timeout is its sdist step's, where its payload runs:
	// the environments and the other steps keep the default.
	if opts.StepTimeout > 0 {
		job.Timeouts = map[string]time.Duration{outcome.StepSdist: opts.StepTimeout}
		opts.StepTimeout = 0
	}
	res, err := New(opts).Run(context.Background(), job)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// runHostile runs one case as a job on backend b and checks what is left.
func runHostile(t *testing.T, b sandbox.Backend, c hostileCase, in interpreter.Interpreter, env *hostileEnv) {
	dir := t.TempDir()
	scratch := filepath.Join(dir, "scratch")
	args := map[string]any{}
	for k, v := range c.args {
		args[k] = v
	}
	if c.marker {
		args["marker"] = testenv.Marker(t)
	}
	if c.build {
		args["_build"], args["_requires"] = true, c.requires
	}
	var sdist string
	if c.hugeZip {
		sdist = env.hugeZip
	} else {
		members := normalMembers("pkg", setupPy(c.payload, args))
		if c.archive != nil {
			members = c.archive(members)
		}
		sdist = writeSdist(t, dir, "pkg", members, c.zip, c.gzBomb)
	}
	run := &hostileRun{backend: b.Name(), in: in}
	stopWatch := func() {}
	if c.watchImage {
		stopWatch = watchImages(scratch, &run.imageMax)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := ms.HeapAlloc
	start := time.Now()
	for i := 0; i < max(c.runs, 1); i++ {
		res := hostileJob(t, b, c, env, scratch, sdist, in)
		run.res = res
		for _, s := range res.Steps {
			if s.Name == outcome.StepSdist {
				run.sdist = s
				run.got = payloadResult(t, s.Log)
				run.runs = append(run.runs, run.got)
			}
			if s.Status == outcome.Machinery && s.Reason == outcome.ReasonSandbox {
				t.Errorf("step %s: the sandbox failed: %s", s.Name, s.Detail)
			}
		}
	}
	run.elapsed = time.Since(start)
	stopWatch()
	runtime.ReadMemStats(&ms)
	run.heapUp = int64(ms.HeapAlloc) - int64(heap)
	if c.payload != "" && c.archive == nil && run.got == nil && run.sdist.Status != outcome.ResourceLimit && run.sdist.Status != outcome.Machinery {
		t.Errorf("the payload recorded nothing (sdist step %s %s):\n%s", run.sdist.Status, run.sdist.Reason, tail(run.sdist.Log, 2000))
	}
	c.check(t, run)
	env.plantedIntact(t, start)

	// Nothing left: the scratch, the step groups or the container, any
	// marked process; and the service still answers.
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("scratch left behind: %v", left)
	}
	if c.marker {
		testenv.NoProcs(t, args["marker"].(string))
	}
	switch b := b.(type) {
	case *sandbox.Namespace:
		if left := b.Leftovers(); len(left) != 0 {
			t.Errorf("step cgroups left: %v", left)
		}
		// (Only the namespace backend stages, and its cases run one at a
		// time.)
		if m, _ := filepath.Glob(filepath.Join(stageRootForTests, strconv.Itoa(os.Getpid()), "*")); len(m) != 0 {
			t.Errorf("stage mounts left: %v", m)
		}
	case *sandbox.Docker:
		if ids, err := b.ContainersUnder(context.Background(), scratch); err != nil || len(ids) != 0 {
			t.Errorf("containers left: %v %v", ids, err)
		}
	}
	resp, err := http.Get(env.http.URL)
	if err != nil {
		t.Errorf("the service no longer answers HTTP: %v", err)
	} else {
		resp.Body.Close()
	}
}

func nopLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stageRootForTests is where the namespace backend stages mounts
// (sandbox/stage.go): nothing of a closed sandbox stays there.
const stageRootForTests = "/run/pysmoke-sandbox"

// watchImages records in *maxBytes the most any scratch image under dir
// takes on the host (allocated blocks) until the returned func is called:
// what a disk filler costs the filesystem holding the service's data.
func watchImages(dir string, maxBytes *int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			imgs, _ := filepath.Glob(filepath.Join(dir, "*.img"))
			for _, p := range imgs {
				var st syscall.Stat_t
				if syscall.Stat(p, &st) == nil && st.Blocks*512 > *maxBytes {
					*maxBytes = st.Blocks * 512
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// writeHugeZip writes a valid zip sdist of n empty stored members, fast
// (the writer's per-member work is what costs).
func writeHugeZip(t *testing.T, dir string, n int) string {
	t.Helper()
	p := filepath.Join(dir, "pkg-1.0.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	for i := 0; i < n; i++ {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("pkg-1.0/f%07d", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// wantPlanted is the control check of a payload that only plants links:
// outside the sandbox it must have run to its end.
func wantPlanted(t *testing.T, got map[string]any) {
	if got["planted"] != true {
		t.Errorf("control: %v", got)
	}
}
