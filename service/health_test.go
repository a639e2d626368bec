package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/allowlist"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/service"
)

// brokenSandbox is a backend that cannot run here.
type brokenSandbox struct{ sandbox.Fake }

func (brokenSandbox) Available(context.Context) error { return errors.New("bwrap: not found") }

// idleService is a service on database ("": SQLite in its data folder)
// that is never run: an index that does not answer, an interpreter that
// is not there.
func idleService(t *testing.T, database string, backend sandbox.Backend) *service.Service {
	t.Helper()
	dir := t.TempDir()
	allowPath := filepath.Join(dir, "allow.txt")
	os.WriteFile(allowPath, []byte("foo\n"), 0o644)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	allow, err := allowlist.NewWatcher(allowPath, quiet)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(context.Background(), service.Options{IndexURL: "http://127.0.0.1:1/", DataDir: filepath.Join(dir, "data"),
		Database: database, Allowlist: allow, Interpreters: []interpreter.Interpreter{{Minor: "3.12", Version: "3.12.0", Path: "/nonexistent/python3.12"}},
		Backend: backend, Logger: quiet, Worker: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// /healthz answers while the process does; /readyz says ready while the
// database, the queue and the sandbox answer, and 503 naming each that
// does not: the sandbox unavailable, the database closed.
func TestHealthAndReadiness(t *testing.T) {
	open := func(backend sandbox.Backend) *service.Service { return idleService(t, "", backend) }
	get := func(svc *service.Service, path string) (int, string) {
		rec := httptest.NewRecorder()
		svc.Routes().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}

	ok := open(sandbox.Fake{})
	if code, body := get(ok, "/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(ok, "/readyz"); code != 200 || body != "ready" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, _ := get(ok, "/badge/foo.svg"); code != 200 {
		t.Errorf("the reports beside: %d", code)
	}
	// The database down: not ready, and says why; still alive.
	ok.Close()
	if code, body := get(ok, "/readyz"); code != 503 || !strings.Contains(body, "database: sql: database is closed") {
		t.Errorf("/readyz with the database closed: %d %q", code, body)
	}
	if code, _ := get(ok, "/healthz"); code != 200 {
		t.Errorf("/healthz with the database closed: %d", code)
	}

	broken := open(brokenSandbox{})
	defer broken.Close()
	if code, body := get(broken, "/readyz"); code != 503 || body != "sandbox fake: bwrap: not found" {
		t.Errorf("/readyz without a sandbox: %d %q", code, body)
	}
}

// On Postgres, the database going away (its connections cut, new ones
// refused, as when the server stops) makes /readyz 503 and say so, while
// /healthz still answers; when it comes back, /readyz is ready again.
func TestReadinessWhilePostgresIsDown(t *testing.T) {
	url := testenv.Postgres(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	svc := idleService(t, url, sandbox.Fake{})
	defer svc.Close()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		svc.Routes().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	if code, body := get("/readyz"); code != 200 || body != "ready" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	testenv.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`)
	testenv.PostgresAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`'`)
	code, body := get("/readyz")
	if code != 503 || !strings.Contains(body, "database: ") || !strings.Contains(body, "queue: ") {
		t.Errorf("/readyz with the database down: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz with the database down: %d", code)
	}
	testenv.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`)
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz with the database back: %d %q", code, body)
	}
}
