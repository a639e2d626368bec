package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/localindex"
)

// BenchmarkExperimentVsRuns is issue 16's benchmark: an experiment over
// the samples on two Pythons (both sides, no confirmation reruns) against
// the same cells run with "pysmoke run" one sample after another, each
// sample twice (once per side), both with two jobs at once. Rounds
// alternate which goes first. It prints each arm's wall time and the
// ratio; docs/benchmarks.md keeps the figures.
func BenchmarkExperimentVsRuns(b *testing.B) {
	if os.Getenv("PYSMOKE_BENCH_EXPERIMENT") == "" {
		b.Skip("set PYSMOKE_BENCH_EXPERIMENT=1 (about 25 minutes a round, two rounds)")
	}
	sandboxtest.Namespace(b)
	st58, _ := filepath.Glob(filepath.Join(testenv.Python(b, "3.9").Prefix, "lib/python3.9/ensurepip/_bundled/setuptools-58.1.0-*.whl"))
	if len(st58) != 1 {
		b.Fatalf("no setuptools 58.1.0 wheel: %v", st58)
	}
	pythons := "3.8,3.12"
	dir := b.TempDir()
	entries, _ := os.ReadDir("../../testdata/samples")
	var sdists []string
	for _, e := range entries {
		p, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), filepath.Join("../../testdata/samples", e.Name()), e.Name(), "1.0")
		if err != nil {
			b.Fatal(err)
		}
		sdists = append(sdists, p)
	}
	// "pysmoke run" exits 1 or 2 for a cell the package or the machinery
	// failed (some samples are built to): only another error is the
	// benchmark's failure; an experiment that completes exits 0.
	quiet := func(args ...string) {
		err := dispatch(context.Background(), args, nilWriter{}, nilWriter{})
		var ee exitError
		if err != nil && (args[0] != "run" || !errors.As(err, &ee)) {
			b.Fatalf("%v: %v", args[:2], err)
		}
	}
	experimentArm := func(round int) time.Duration {
		start := time.Now()
		args := []string{"experiment", "--data", filepath.Join(dir, "data"+strconv.Itoa(round)), "--python", pythons, "-j", "2",
			"--confirm", "0", "--candidate-wheel", st58[0], "bench"}
		quiet(append(args, sdists...)...)
		return time.Since(start)
	}
	runsArm := func() time.Duration {
		start := time.Now()
		for _, s := range sdists {
			for range 2 {
				quiet("run", "--python", pythons, "-j", "2", "--tail", "0", s)
			}
		}
		return time.Since(start)
	}
	// Two rounds an iteration, the experiment first in one and second in
	// the other (run with -benchtime 1x: one iteration).
	for i := range 2 * b.N {
		var e, r time.Duration
		if i%2 == 0 {
			e, r = experimentArm(i), runsArm()
		} else {
			r, e = runsArm(), experimentArm(i)
		}
		fmt.Fprintf(os.Stderr, "round %d: experiment %s, pysmoke run one after another %s, ratio %.2f (%d samples, Python %s, both sides)\n",
			i+1, e.Round(time.Second), r.Round(time.Second), e.Seconds()/r.Seconds(), len(sdists), pythons)
		b.ReportMetric(e.Seconds()/r.Seconds(), "experiment/runs")
	}
}

type nilWriter struct{}

func (nilWriter) Write(p []byte) (int, error) { return len(p), nil }
