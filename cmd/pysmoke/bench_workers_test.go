package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/store"
)

// BenchmarkWorkers is issue 18's benchmark: the same backfill (six
// samples on 3.11 and 3.12, twelve builds) run on Postgres by the service
// (serve --workers 0) and one pysmoke worker process, then by two, each
// worker running one build at a time on the namespace sandbox. Each arm
// has a fresh database and data folders; rounds alternate which arm goes
// first. The time is the store's: from the first build's start to the
// last one's end (the processes' start is not the queue's), so jobs per
// minute = 12 / that span. It prints each arm's span, its jobs per minute,
// the builds' mean time, and the ratio of two workers to one.
func BenchmarkWorkers(b *testing.B) {
	if os.Getenv("PYSMOKE_BENCH_WORKERS") == "" {
		b.Skip("set PYSMOKE_BENCH_WORKERS=1 (about 2 minutes an arm, four arms)")
	}
	sandboxtest.Namespace(b)
	pythons := []string{"3.11", "3.12"}
	for _, py := range pythons {
		testenv.Python(b, py)
	}
	samples := []string{"smokegood", "py2only", "usesimp", "notests", "markapp", "setupimp"}
	tmp := b.TempDir()
	indexDir := filepath.Join(tmp, "index")
	ix, err := localindex.New(indexDir, localindex.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range samples {
		if _, err := localindex.WriteSdist(indexDir, filepath.Join("../../testdata/samples", s), s, "1.0"); err != nil {
			b.Fatal(err)
		}
	}
	if err := ix.Rescan(); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	defer srv.Close()
	allow := filepath.Join(tmp, "allow.txt")
	os.WriteFile(allow, []byte(strings.Join(samples, "\n")+"\n"), 0o644)
	bin := buildPysmoke(b)
	cells := len(samples) * len(pythons)

	arm := func(round, workers int) (span, mean time.Duration) {
		db := testenv.Postgres(b)
		dir := filepath.Join(tmp, fmt.Sprintf("round%d-%dw", round, workers))
		env := []string{"PYSMOKE_DATABASE=" + db}
		common := []string{"--index", srv.URL + "/", "--allowlist", allow, "--python", strings.Join(pythons, ","), "--confirm", "0"}
		procs := []*exec.Cmd{startLogged(b, dir+"-service.log", env, bin, append([]string{"serve", "--data", dir + "/service",
			"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(b)), "--workers", "0", "--interval", "10s", "--hint-interval", "1s"}, common...)...)}
		for w := range workers {
			name := "w" + strconv.Itoa(w+1)
			procs = append(procs, startLogged(b, dir+"-"+name+".log", env, bin, append([]string{"worker", "--data", dir + "/" + name,
				"--worker", name, "--workers", "1"}, common...)...))
		}
		ctx := context.Background()
		st, err := store.Open(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		var all []store.Cell
		deadline := time.Now().Add(20 * time.Minute)
		for {
			all = all[:0]
			for _, s := range samples {
				cs, _ := st.Cells(ctx, s, "1.0")
				all = append(all, cs...)
			}
			if len(all) == cells {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d cells after 20 minutes", len(all), cells)
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			p.Wait()
		}
		// A worker that died at start, or took nothing, is no arm of two.
		ranBy := map[string]int{}
		for _, c := range all {
			ranBy[c.Worker]++
		}
		if len(ranBy) != workers {
			b.Fatalf("%d workers started, builds ran by %v", workers, ranBy)
		}
		first, last := all[0].StartedAt, all[0].FinishedAt
		var sum time.Duration
		for _, c := range all {
			first, last = minTime(first, c.StartedAt), maxTime(last, c.FinishedAt)
			sum += c.FinishedAt.Sub(c.StartedAt)
		}
		return last.Sub(first), sum / time.Duration(len(all))
	}
	perMinute := func(span time.Duration) float64 { return float64(cells) / span.Minutes() }
	// Two rounds an iteration, one worker first in one and two first in
	// the other (run with -benchtime 1x: one iteration).
	for i := range 2 * b.N {
		var one, two, m1, m2 time.Duration
		if i%2 == 0 {
			one, m1 = arm(i, 1)
			two, m2 = arm(i, 2)
		} else {
			two, m2 = arm(i, 2)
			one, m1 = arm(i, 1)
		}
		fmt.Fprintf(os.Stderr, "round %d: 1 worker %s (%.1f builds/min, a build %s), 2 workers %s (%.1f builds/min, a build %s), 2 against 1: %.2f× the builds a minute (%d builds)\n",
			i+1, one.Round(100*time.Millisecond), perMinute(one), m1.Round(100*time.Millisecond),
			two.Round(100*time.Millisecond), perMinute(two), m2.Round(100*time.Millisecond), one.Seconds()/two.Seconds(), cells)
	}
	b.ReportMetric(0, "ns/op")
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
