package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Nginx serves root with Debian's nginx on a free port of 127.0.0.1 until
// the test ends, as a static host of pysmoke's reports would: sendfile,
// keep-alive, no access log, and the types pysmoke's files need (.log as
// text/plain, .rss and .atom as feeds). It returns the server's URL.
// Without nginx the test skips (fails in CI).
func Nginx(t testing.TB, root string) string {
	t.Helper()
	return NginxUnder(t, root, 0)
}

// NginxUnder is Nginx with the given number of worker processes (0: one
// per CPU of the machine, nginx's "auto"), started through the command
// prefix (taskset -c 1, say, to keep it on one CPU, with one worker:
// "auto" counts the machine's CPUs, not those it may use).
func NginxUnder(t testing.TB, root string, workers int, prefix ...string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/nginx")
	}
	Require(t, "nginx", err)
	dir, err := os.MkdirTemp("", "pysmoke-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// nginx's workers drop to an unprivileged user: the test's folders
	// on the way to root (0700) must let them in. Only those under the
	// temporary folder are opened.
	tmp := filepath.Clean(os.TempDir()) + string(filepath.Separator)
	if !strings.HasPrefix(root, tmp) {
		t.Fatalf("nginx: %s is not under %s", root, tmp)
	}
	for d := root; strings.HasPrefix(d, tmp); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o055)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	procs := "auto"
	if workers > 0 {
		procs = strconv.Itoa(workers)
	}
	conf := filepath.Join(dir, "nginx.conf")
	body := fmt.Sprintf(`daemon off;
worker_processes %[4]s;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
  types {
    text/html html;
    text/css css;
    image/svg+xml svg;
    application/json json;
    application/rss+xml rss;
    application/atom+xml atom;
    text/plain log txt;
  }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path %[1]s/tmp;
  proxy_temp_path %[1]s/tmp;
  fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp;
  scgi_temp_path %[1]s/tmp;
  server {
    listen %[2]s;
    root %[3]s;
  }
}
`, dir, addr, root, procs)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string(nil), prefix...), bin, "-c", conf, "-p", dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// A group of its own, so that its workers can be ended with it; and
	// a SIGTERM to the master should the test's process die first. A
	// master killed outright leaves its workers running, listening.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM: the master ends its workers, then itself.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("nginx does not answer on %s: %s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}
