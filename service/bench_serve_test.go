package service

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

// BenchmarkServeVsNginx is issue 17's comparison: wrk (-t1 -c32) against
// the report server, as the service runs it (its limits, its memory of
// rendered answers), over a store of 5,000 projects on nine Pythons, and
// against nginx serving the very bytes the server answered as static
// files (testenv.Nginx, configured as a static host would be), in the
// same run, interleaved (pysmoke then nginx, then nginx then pysmoke,
// ...). Set PYSMOKE_BENCH_SERVE=1 (it needs nginx and wrk
// from Debian; about 4 minutes with the default 5 s per wrk run,
// PYSMOKE_BENCH_SERVE_DURATION to change it). The figures and how to
// read them are in docs/benchmarks.md.
func BenchmarkServeVsNginx(b *testing.B) {
	if os.Getenv("PYSMOKE_BENCH_SERVE") == "" {
		b.Skip("set PYSMOKE_BENCH_SERVE=1 (needs nginx and wrk)")
	}
	for _, tool := range []string{"nginx", "wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s: %v (apt-get install %s)", tool, err, tool)
		}
	}
	duration := os.Getenv("PYSMOKE_BENCH_SERVE_DURATION")
	if duration == "" {
		duration = "5s"
	}
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "pysmoke.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const projects = 5000
	start := time.Now()
	fillStore(b, st, projects)
	b.Logf("store: %d projects on nine Pythons written in %s", projects, time.Since(start).Round(time.Second))

	// Pinned (PYSMOKE_BENCH_SERVE_PIN=1): wrk on CPU 0, each server on
	// CPU 1 (the report server in a child process, so that all its
	// threads are there and Go sizes itself to one CPU), so that the
	// load and the server under it do not share a core. Otherwise all
	// three share both.
	var wrkPrefix, serverPrefix []string
	if os.Getenv("PYSMOKE_BENCH_SERVE_PIN") != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			b.Fatalf("taskset: %v", err)
		}
		wrkPrefix, serverPrefix = []string{"taskset", "-c", "0"}, []string{"taskset", "-c", "1"}
	}
	var ours string
	if serverPrefix != nil {
		ours = serveChild(b, serveChildEnv, filepath.Join(dir, "pysmoke.db"), serverPrefix)
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		rep := report.New(st, report.Options{BaseURL: "http://" + ln.Addr().String(), Logger: quiet, Runs: st, Recent: st})
		srv, lln := httpServer(rep, rep, ln, HTTPLimits{}, quiet)
		go srv.Serve(lln)
		defer srv.Close()
		ours = "http://" + ln.Addr().String()
	}

	// The same bytes as files, under the same paths (a folder's page as
	// its index.html), with the content types the server gave.
	root := filepath.Join(dir, "www")
	name := fmt.Sprintf("project-%04d", projects/2)
	urls := []struct{ label, path string }{
		{"badge", "/badge/" + name + ".svg"},
		{"project page", "/project/" + name + "/"},
		{"project JSON", "/api/v1/project/" + name + ".json"},
		{"overview (5,000 projects)", "/"},
	}
	for _, u := range urls {
		resp, err := http.Get(ours + u.path)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %s", u.path, resp.Status)
		}
		file := u.path
		if strings.HasSuffix(file, "/") {
			file += "index.html"
		}
		p := filepath.Join(root, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %d bytes, %s", u.path, len(body), resp.Header.Get("Content-Type"))
	}
	nginxWorkers := 0
	if serverPrefix != nil {
		nginxWorkers = 1 // one per CPU it is given
	}
	nginxURL := testenv.NginxUnder(b, root, nginxWorkers, serverPrefix...)
	// Go's net/http server with nothing of pysmoke's: the same bytes from
	// a map, where it runs (pinned: a child on the same CPU).
	var bareURL string
	if serverPrefix != nil {
		bareURL = serveChild(b, bareChildEnv, root, serverPrefix)
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		h, err := bareHandler(root)
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		defer srv.Close()
		bareURL = "http://" + ln.Addr().String()
	}
	sides := []string{"pysmoke", "net/http", "nginx"}

	type figure struct{ rps, p99 []float64 }
	results := map[string]*[3]figure{}
	for round := 0; round < 3; round++ {
		for _, u := range urls {
			order := []int{0, 1, 2}
			if round%2 == 1 {
				order = []int{2, 1, 0}
			}
			if results[u.label] == nil {
				results[u.label] = &[3]figure{}
			}
			for _, side := range order {
				base := []string{ours, bareURL, nginxURL}[side]
				rps, p99 := runWrk(b, wrkPrefix, base+u.path, duration)
				f := &results[u.label][side]
				f.rps = append(f.rps, rps)
				f.p99 = append(f.p99, p99)
				fmt.Fprintf(os.Stderr, "round %d %-26s %-7s %9.0f req/s  p99 %6.2f ms\n", round+1, u.label, sides[side], rps, p99)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "\n%-26s %28s | %28s | %28s | %s\n", "", "pysmoke req/s (p99 ms)", "bare net/http req/s (p99 ms)", "nginx req/s (p99 ms)", "pysmoke/nginx per round")
	for _, u := range urls {
		r := results[u.label]
		var line, ratios []string
		for side := range r {
			var cells []string
			for i := range r[side].rps {
				cells = append(cells, fmt.Sprintf("%.0f (%.2f)", r[side].rps[i], r[side].p99[i]))
			}
			line = append(line, strings.Join(cells, ", "))
		}
		for i := range r[0].rps {
			ratios = append(ratios, fmt.Sprintf("%.2f", r[0].rps[i]/r[2].rps[i]))
		}
		fmt.Fprintf(os.Stderr, "%-26s %s | %s | %s | %s\n", u.label, line[0], line[1], line[2], strings.Join(ratios, " "))
	}
}

// fillStore records n projects, one release each, a cell on each of nine
// Pythons with the seven steps and a wheel of a few members: the shape of
// a real service's store, written through the store's own API.
func fillStore(b testing.TB, st *store.Store, n int) {
	ctx := context.Background()
	pythons := []string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
	var pys []store.Python
	for _, p := range pythons {
		pys = append(pys, store.Python{Python: p, FullVersion: p + ".0", Path: "/opt/python/" + p + "/bin/python" + p})
	}
	if err := st.SetPythons(ctx, pys); err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("project-%04d", i)
		if _, err := st.AddRelease(ctx, store.Release{Project: name, DisplayName: name, Version: "1.0", DiscoveredAt: t0, UploadedAt: t0}); err != nil {
			b.Fatal(err)
		}
		for j, py := range pythons {
			status, reason := outcome.Passed, ""
			if (i+j)%7 == 0 {
				status, reason = outcome.Failed, "exit-status"
			}
			var steps []store.Step
			logs := map[string][]byte{}
			for _, s := range outcome.Steps {
				step := store.Step{Name: s, Status: outcome.Passed, Duration: 1500 * time.Millisecond}
				if s == outcome.StepTests {
					step.Status, step.Reason = status, reason
				}
				if s == outcome.StepWheel {
					w := store.Artifact{Path: name + "-1.0-py3-none-any.whl", Size: 4096, SHA256: fmt.Sprintf("%064x", i)}
					for k := 0; k < 8; k++ {
						w.Members = append(w.Members, store.Member{Path: fmt.Sprintf("%s/mod%d.py", name, k), Size: 512, Mode: "0644", SHA256: fmt.Sprintf("%064x", k)})
					}
					step.Artifacts = []store.Artifact{w}
				}
				steps = append(steps, step)
				logs[s] = []byte("running " + s + "\n")
			}
			c := store.Cell{Project: name, Version: "1.0", Python: py, FullVersion: py + ".0", Backend: "bwrap", Worker: "bench",
				Status: status, Reason: reason, StartedAt: t0, FinishedAt: t0.Add(time.Minute), Steps: steps}
			if err := st.SaveCell(ctx, c, logs); err != nil {
				b.Fatal(err)
			}
		}
	}
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkP99     = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: .*`)
)

// runWrk runs wrk -t1 -c32 against url: requests per second and the 99th
// percentile latency in milliseconds. Any error response or socket error
// fails the benchmark: a fast error is no figure.
func runWrk(b *testing.B, prefix []string, url, duration string) (float64, float64) {
	argv := append(append([]string(nil), prefix...), "wrk", "-t1", "-c32", "-d"+duration, "--latency", url)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %s: %v\n%s", url, err, out)
	}
	text := string(out)
	if m := wrkNon2xx.FindStringSubmatch(text); m != nil {
		b.Fatalf("wrk %s: %s error responses\n%s", url, m[1], text)
	}
	if m := wrkSockErr.FindString(text); m != "" {
		b.Fatalf("wrk %s: %s\n%s", url, m, text)
	}
	rm, pm := wrkRPS.FindStringSubmatch(text), wrkP99.FindStringSubmatch(text)
	if rm == nil || pm == nil {
		b.Fatalf("wrk %s: no figures in\n%s", url, text)
	}
	rps, _ := strconv.ParseFloat(rm[1], 64)
	p99, _ := strconv.ParseFloat(pm[1], 64)
	switch pm[2] {
	case "us":
		p99 /= 1000
	case "s":
		p99 *= 1000
	}
	return rps, p99
}

// serveChildEnv names the store a child process of the benchmark serves
// (serveChild), bareChildEnv the folder one serves with bareHandler;
// serveAddrEnv the address it listens on.
const (
	serveChildEnv = "PYSMOKE_BENCH_SERVE_CHILD"
	bareChildEnv  = "PYSMOKE_BENCH_BARE_CHILD"
	serveAddrEnv  = "PYSMOKE_BENCH_SERVE_ADDR"
)

// bareHandler serves the files under root from memory with net/http and
// nothing else (a content type by extension, the body): the floor of
// what a net/http server answers, to read pysmoke's figures (served by
// fasthttp, httpServer) against.
func bareHandler(root string) (http.Handler, error) {
	type file struct {
		ctype string
		body  []byte
	}
	files := map[string]file{}
	types := map[string]string{".svg": "image/svg+xml", ".html": "text/html; charset=utf-8", ".json": "application/json"}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		u := "/" + filepath.ToSlash(rel)
		files[strings.TrimSuffix(u, "index.html")] = file{types[filepath.Ext(p)], body}
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.ctype)
		w.Write(f.body)
	}), err
}

// TestMain: with serveChildEnv or bareChildEnv set, the test binary is a
// server of the pinned benchmark (until it is killed), not a test run.
func TestMain(m *testing.M) {
	if root := os.Getenv(bareChildEnv); root != "" {
		h, err := bareHandler(root)
		if err != nil {
			panic(err)
		}
		panic(http.ListenAndServe(os.Getenv(serveAddrEnv), h))
	}
	if db := os.Getenv(serveChildEnv); db != "" {
		ctx := context.Background()
		st, err := store.Open(ctx, db)
		if err != nil {
			panic(err)
		}
		ln, err := net.Listen("tcp", os.Getenv(serveAddrEnv))
		if err != nil {
			panic(err)
		}
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		rep := report.New(st, report.Options{BaseURL: "http://" + ln.Addr().String(), Logger: quiet, Runs: st, Recent: st})
		srv, lln := httpServer(rep, rep, ln, HTTPLimits{}, quiet)
		panic(srv.Serve(lln))
	}
	os.Exit(m.Run())
}

// serveChild starts a server in a child process (this test binary) under
// prefix, and returns its URL once it answers: with env serveChildEnv the
// report server of the store arg, with bareChildEnv bareHandler of the
// folder arg.
func serveChild(b *testing.B, env, arg string, prefix []string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	argv := append(append([]string(nil), prefix...), os.Args[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env+"="+arg, serveAddrEnv+"="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			b.Fatalf("the report server's child does not answer on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}
