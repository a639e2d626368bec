//go:build linux

package crawler_test

// BenchmarkCrawlSchedule5000 runs the crawler's schedule over a
// 5,000-project allowlist against the local index, on a shortened clock
// (one "hour" of schedule is PYSMOKE_BENCH_HOUR of real time, 60 s by
// default; the interval is that hour and the feed is read every 1/60 of
// it, as with the defaults --interval 1h --hint-interval 1m). The index
// runs in a child process (this test binary, re-executed), which counts
// requests, so the crawler's own CPU and memory are measured apart from
// the server's. Phases:
//
//  1. warm-up: every project joins at once (one release each, backfilled);
//  2. steady state: one hour with nothing new: requests, 304s, bytes, CPU
//     and memory per hour;
//  3. 50 projects change (a new release each, spread over half an hour):
//     how long each took to be found, with the updates feed working;
//  4. 50 more change while the updates feed is frozen (a stale copy that
//     names none of them): the schedule alone must find each within one
//     interval.
//
// Run with `make bench` (or PYSMOKE_BENCH_CRAWL=1 go test -run '^$'
// -bench CrawlSchedule -benchtime 1x ./crawler/); it is skipped otherwise,
// being minutes long. PYSMOKE_BENCH_CPUPROFILE=FILE writes a CPU profile
// of the crawler over the steady hour.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/store"
)

const benchIndexEnv = "PYSMOKE_BENCH_INDEX_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchIndexEnv); dir != "" {
		os.Exit(serveBenchIndex(dir))
	}
	os.Exit(m.Run())
}

// benchStats is what the child reports.
type benchStats struct {
	Index   localindex.Stats
	WireIn  int64         // bytes received on the index's and files' connections
	WireOut int64         // bytes sent on them, headers included
	CPU     time.Duration // the child's own CPU time
	MaxRSS  int64         // the child's peak RSS, bytes
}

// countingListener counts the bytes of every connection it accepts.
type countingListener struct {
	net.Listener
	in, out *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.in, l.out}, nil
}

type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

// serveBenchIndex is the child: the local index over dir (files from a
// second address, as on pypi.org), plus a control API under /_bench/ that
// is not counted. It prints "INDEX_URL\n" and serves until stdin closes.
func serveBenchIndex(dir string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	base, files := "http://"+ln.Addr().String(), "http://"+fln.Addr().String()
	ix, err := localindex.New(dir, localindex.Options{BaseURL: base, FilesBaseURL: files})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Control requests go over their own connections (the client below
	// closes them), so the wire counts are the crawler's traffic.
	var in, out atomic.Int64
	control := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", ix.Handler())
	mux.HandleFunc("GET /_bench/stats", control(func(w http.ResponseWriter, r *http.Request) {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		json.NewEncoder(w).Encode(benchStats{Index: ix.Stats(), WireIn: in.Load(), WireOut: out.Load(),
			CPU: rusageCPU(ru), MaxRSS: ru.Maxrss * 1024})
	}))
	mux.HandleFunc("POST /_bench/reset", control(func(w http.ResponseWriter, r *http.Request) {
		ix.ResetStats()
		in.Store(0)
		out.Store(0)
	}))
	mux.HandleFunc("POST /_bench/rescan", func(w http.ResponseWriter, r *http.Request) {
		if err := ix.Rescan(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /_bench/freeze-updates", func(w http.ResponseWriter, r *http.Request) {
		snap, err := ix.Snapshot(base + "/rss/updates.xml")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ix.InjectFault("/rss/updates.xml", localindex.Fault{Stale: snap})
	})
	mux.HandleFunc("POST /_bench/thaw", func(w http.ResponseWriter, r *http.Request) { ix.ClearFaults() })
	go http.Serve(countingListener{ln, &in, &out}, mux)
	go http.Serve(countingListener{fln, &in, &out}, ix.FilesHandler())
	fmt.Println(base)
	io.Copy(io.Discard, os.Stdin) // until the parent goes
	return 0
}

func rusageCPU(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchIndex is the parent's handle on the child.
type benchIndex struct {
	url  string
	dir  string
	cmd  *exec.Cmd
	stop io.Closer
}

func startBenchIndex(b *testing.B, dir string) *benchIndex {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchIndexEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("index child: %v", err)
	}
	ix := &benchIndex{url: strings.TrimSpace(line), dir: dir, cmd: cmd, stop: stdin}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return ix
}

// controlClient opens a connection per control request, and the counts
// are read before it goes: its bytes stay out of the crawler's.
var controlClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func (ix *benchIndex) post(b *testing.B, what string) {
	b.Helper()
	resp, err := controlClient.Post(ix.url+"/_bench/"+what, "text/plain", nil)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %s %s", what, resp.Status, body)
	}
}

func (ix *benchIndex) stats(b *testing.B) benchStats {
	b.Helper()
	resp, err := controlClient.Get(ix.url + "/_bench/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var s benchStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		b.Fatal(err)
	}
	return s
}

// publish drops a release into the child's folder (written aside and
// renamed, as "pysmoke index publish" does) and has the child rescan.
func (ix *benchIndex) publish(b *testing.B, name string) {
	b.Helper()
	tmp := filepath.Join(ix.dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, []byte("the bytes of "+name+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(ix.dir, name)); err != nil {
		b.Fatal(err)
	}
	ix.post(b, "rescan")
}

// stamped records when each release was handed on.
type stamped struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *stamped) EnqueueRelease(_ context.Context, r store.Release) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[r.Project+" "+r.Version] = time.Now()
	return nil
}

func (s *stamped) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

func (s *stamped) when(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[key]
	return t, ok
}

// memSampler keeps the crawler process's peak Go heap in use.
type memSampler struct {
	mu       sync.Mutex
	peakHeap uint64
	stop     chan struct{}
	done     chan struct{}
}

func sampleMemory() *memSampler {
	m := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			m.mu.Lock()
			m.peakHeap = max(m.peakHeap, ms.HeapInuse)
			m.mu.Unlock()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) peak() uint64 {
	close(m.stop)
	<-m.done
	return m.peakHeap
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return rusageCPU(ru)
}

func selfMaxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func BenchmarkCrawlSchedule5000(b *testing.B) {
	if os.Getenv("PYSMOKE_BENCH_CRAWL") == "" {
		b.Skip("minutes long: set PYSMOKE_BENCH_CRAWL=1 (make bench does)")
	}
	hour := time.Minute
	if v := os.Getenv("PYSMOKE_BENCH_HOUR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			b.Fatalf("PYSMOKE_BENCH_HOUR=%q: want a duration of at least 10s", v)
		}
		hour = d
	}
	scale := float64(time.Hour) / float64(hour) // real hours per benchmark hour
	const projects, changes = 5000, 50

	for i := 0; i < b.N; i++ {
		tmp := b.TempDir()
		dir := filepath.Join(tmp, "index")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		var names []string
		for p := range projects {
			name := fmt.Sprintf("proj%04d", p)
			names = append(names, name)
			if err := os.WriteFile(filepath.Join(dir, name+"-1.0.tar.gz"), []byte("the bytes of "+name+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		ix := startBenchIndex(b, dir)
		ctx := context.Background()
		st, err := store.Open(ctx, filepath.Join(tmp, "db.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		enq := &stamped{at: map[string]time.Time{}}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		client, err := index.New(index.Options{
			URL:       ix.url,
			MirrorDir: filepath.Join(tmp, "mirror"),
			// The default 5 requests a second, on the benchmark's clock.
			RateLimit: 5 * scale,
			Logger:    log,
		})
		if err != nil {
			b.Fatal(err)
		}
		c, err := crawler.New(crawler.Options{Interval: hour, HintInterval: hour / 60, Logger: log}, client, st, enq, func() []string { return names })
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		b.Cleanup(func() { cancel(); wg.Wait() })
		wg.Go(func() { c.Run(runCtx) })

		// 1. Warm-up.
		start := time.Now()
		for enq.count() < projects {
			if time.Since(start) > 10*hour {
				b.Fatalf("warm-up: %d of %d releases queued", enq.count(), projects)
			}
			time.Sleep(100 * time.Millisecond)
		}
		warm := ix.stats(b)
		b.Logf("warm-up: %d projects read and their sdists mirrored in %s, %d requests",
			projects, time.Since(start).Round(time.Second), warm.Index.Requests)

		// The schedule catches up: each project's first slot after its
		// warm-up read may have come round during the warm-up itself.
		time.Sleep(hour / 10)

		// 2. Steady state: one hour, nothing new.
		ix.post(b, "reset")
		childBefore := ix.stats(b)
		if path := os.Getenv("PYSMOKE_BENCH_CPUPROFILE"); path != "" {
			// A CPU profile of the crawler over the steady hour.
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
		cpuBefore := selfCPU()
		mem := sampleMemory()
		time.Sleep(hour)
		peakHeap := mem.peak()
		cpu := selfCPU() - cpuBefore
		if os.Getenv("PYSMOKE_BENCH_CPUPROFILE") != "" {
			pprof.StopCPUProfile()
		}
		child := ix.stats(b)
		reqs := child.Index.Requests
		notMod := child.Index.ByStatus[http.StatusNotModified]
		share := float64(notMod) / float64(max(reqs, 1))
		rss := selfMaxRSS()

		// 3. and 4. Changes.
		order := rand.Perm(projects)
		found := func(label string, picks []int) (maxLatency, meanLatency time.Duration) {
			b.Helper()
			published := map[string]time.Time{}
			for k, p := range picks {
				name := names[p]
				ix.publish(b, name+"-2.0.tar.gz")
				published[name+" 2.0"] = time.Now()
				if k < len(picks)-1 {
					time.Sleep(hour / 2 / time.Duration(len(picks)))
				}
			}
			deadline := time.Now().Add(hour + hour/10)
			for {
				var total time.Duration
				maxLatency, missing := time.Duration(0), 0
				for key, at := range published {
					got, ok := enq.when(key)
					if !ok {
						missing++
						continue
					}
					total += got.Sub(at)
					maxLatency = max(maxLatency, got.Sub(at))
				}
				if missing == 0 {
					return maxLatency, total / time.Duration(len(published))
				}
				if time.Now().After(deadline) {
					b.Errorf("%s: %d of %d changes not found within %s of the last one", label, missing, len(picks), hour+hour/10)
					return hour * 2, 0
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		withFeed, withFeedMean := found("feed working", order[:changes])
		ix.post(b, "freeze-updates")
		scheduleOnly, scheduleOnlyMean := found("feed frozen", order[changes:2*changes])
		ix.post(b, "thaw")
		cancel()
		wg.Wait()

		perHour := func(v float64) float64 { return v } // the window is one benchmark hour
		realHour := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
		b.ReportMetric(perHour(float64(reqs)), "req/h")
		b.ReportMetric(100*share, "%304")
		b.ReportMetric(perHour(float64(child.WireIn+child.WireOut))/1e6, "wire-MB/h")
		b.ReportMetric(cpu.Seconds(), "crawler-cpu-s/h")
		b.ReportMetric(float64(rss)/1e6, "crawler-maxRSS-MB")
		b.ReportMetric(float64(peakHeap)/1e6, "crawler-heap-MB")
		b.ReportMetric(float64(withFeed)/float64(hour), "max-latency/interval")
		b.ReportMetric(float64(scheduleOnly)/float64(hour), "max-latency-nofeed/interval")

		byPath := func(s benchStats) string {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range s.Index.ByPath {
					if !yield(k) {
						return
					}
				}
			})
			var parts []string
			for _, k := range keys {
				parts = append(parts, k+" "+strconv.FormatInt(s.Index.ByPath[k], 10))
			}
			return strings.Join(parts, ", ")
		}
		b.Logf("schedule: interval %s (1 h), feed every %s (1 min), rate limit %.0f/s (5/s)", hour, hour/60, 5*scale)
		b.Logf("steady state, per hour of schedule: %d requests (%s), %d answered 304 (%.2f%%); "+
			"on the wire %.2f MB to the index, %.2f MB back (headers included; bodies %d bytes)",
			reqs, byPath(child), notMod, 100*share, float64(child.WireIn)/1e6, float64(child.WireOut)/1e6, child.Index.Bytes)
		b.Logf("crawler process: %.2f s CPU per hour of schedule (the same work as a real hour), peak RSS %.1f MB, peak Go heap in use %.1f MB",
			cpu.Seconds(), float64(rss)/1e6, float64(peakHeap)/1e6)
		b.Logf("index process: %.2f s CPU over the hour, peak RSS %.1f MB",
			(child.CPU - childBefore.CPU).Seconds(), float64(child.MaxRSS)/1e6)
		b.Logf("50 changes, feed working: found after %s on average, %s at most (%s and %s on a real clock)",
			withFeedMean.Round(time.Millisecond), withFeed.Round(time.Millisecond),
			realHour(withFeedMean).Round(time.Second), realHour(withFeed).Round(time.Second))
		b.Logf("50 changes, feed frozen: found after %s on average, %s at most (%s and %s on a real clock; interval %s = 1 h)",
			scheduleOnlyMean.Round(time.Millisecond), scheduleOnly.Round(time.Millisecond),
			realHour(scheduleOnlyMean).Round(time.Second), realHour(scheduleOnly).Round(time.Second), hour)

		if reqs > 6000 {
			b.Errorf("%d requests per hour of schedule, want at most 6000", reqs)
		}
		if share < 0.95 {
			b.Errorf("%.2f%% answered 304, want at least 95%%", 100*share)
		}
		if rss >= 100<<20 {
			b.Errorf("crawler peak RSS %.1f MB, want under 100 MB", float64(rss)/1e6)
		}
		if withFeed > hour || scheduleOnly > hour {
			b.Errorf("a change took longer than the interval to be found: %s with the feed, %s without", withFeed, scheduleOnly)
		}
	}
}
