package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/sandbox"
)

// BenchmarkTwoToThree10MB measures the 2to3 step on a project of 10 MB of
// Python 2 source (400 modules of ordinary code, about 25 KB each, and a
// data table of 8,000 tuples as idna ships): a whole job on the newest
// Python that has lib2to3, bare and in the namespace sandbox, interleaved,
// reporting the 2to3 step's own duration. The figure to hold it to is the
// step timeout (10 minutes): "well inside". A round takes about 5 minutes,
// so it runs only with PYSMOKE_BENCH_2TO3=1 (make bench sets it).
func BenchmarkTwoToThree10MB(b *testing.B) {
	if os.Getenv("PYSMOKE_BENCH_2TO3") == "" {
		b.Skip("set PYSMOKE_BENCH_2TO3=1 (about 5 minutes a round)")
	}
	var in interpreter.Interpreter
	for _, i := range testenv.Pythons(b) {
		if i.Lib2to3 {
			in = i
		}
	}
	if in.Path == "" {
		b.Fatal("no interpreter with lib2to3")
	}
	src := filepath.Join(b.TempDir(), "big2to3")
	size := writeBigProject(b, src)
	sdist, err := localindex.WriteSdist(b.TempDir(), src, "big2to3", "1.0")
	if err != nil {
		b.Fatal(err)
	}
	tc := testenv.Toolchain(b)
	backends := []sandbox.Backend{bare, sandboxtest.Namespace(b)}
	took := map[string][]time.Duration{}
	for range b.N {
		for _, be := range backends {
			r := runner.New(runner.Options{Backend: be, Toolchain: tc, ScratchDir: b.TempDir()})
			res, err := r.Run(context.Background(), runner.Job{Project: "big2to3", Version: "1.0", Sdist: sdist, Interpreter: in})
			if err != nil {
				b.Fatal(err)
			}
			for _, st := range res.Steps {
				if st.Name != outcome.Step2to3 {
					continue
				}
				if st.Status != outcome.Passed {
					b.Fatalf("%s: 2to3 %s %s %s", be.Name(), st.Status, st.Reason, st.Detail)
				}
				if !strings.Contains(string(st.Log), "converting the built wheel's 401 Python files") {
					b.Fatalf("%s: 2to3 did not convert the wheel's 401 files:\n%s", be.Name(), firstLines(st.Log, 3))
				}
				took[be.Name()] = append(took[be.Name()], st.Duration)
			}
		}
	}
	nb, ns := median(took[bare.Name()]), median(took[backends[1].Name()])
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(nb.Seconds(), "bare-s")
	b.ReportMetric(ns.Seconds(), "namespace-s")
	b.ReportMetric(float64(ns)/float64(nb), "namespace/bare")
	b.ReportMetric(ns.Seconds()/(10*time.Minute).Seconds(), "of-timeout")
}

// writeBigProject writes the 10 MB project into dir and returns the bytes
// of Python source it holds. Deterministic: the same files every run.
func writeBigProject(b *testing.B, dir string) int {
	pkg := filepath.Join(dir, "big")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		b.Fatal(err)
	}
	total := 0
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
		if strings.HasSuffix(name, ".py") && name != "setup.py" {
			total += len(text)
		}
	}
	write("setup.py", "from setuptools import setup\nsetup(name='big2to3', version='1.0', packages=['big'])\n")
	write("big/__init__.py", "")
	for m := range 399 {
		var sb strings.Builder
		for c := 0; sb.Len() < 25_000; c++ {
			// Python 2 idioms the fixers rewrite: print statements,
			// dict.iteritems, xrange, unicode, except X, e.
			fmt.Fprintf(&sb, `
class Record%[1]d_%[2]d(object):
    """A record of module %[1]d."""

    def __init__(self, values):
        self.values = dict(values)

    def render(self, width=%[2]d):
        out = []
        for key, value in sorted(self.values.iteritems()):
            if isinstance(value, basestring):
                out.append(u"%%s=%%s" %% (key, value))
            else:
                out.append("%%s=%%r" %% (key, value))
        for i in xrange(width %% 7):
            out.append(str(i))
        try:
            print >>sys.stderr, ", ".join(out)
        except IOError, e:
            raise ValueError("cannot render: %%s" %% e)
        return len(out)
`, m, c)
		}
		write(fmt.Sprintf("big/mod%03d.py", m), "import sys\n"+sb.String())
	}
	var tb strings.Builder
	for seg := range 80 {
		fmt.Fprintf(&tb, "def _seg_%d():\n    return [\n", seg)
		for i := range 100 {
			cp := seg*100 + i
			fmt.Fprintf(&tb, "    (0x%X, 'M', u'\\u%04x'),\n", cp, cp%0xd000+0x100)
		}
		tb.WriteString("    ]\n\n")
	}
	tb.WriteString("uts46data = tuple(\n")
	for seg := range 80 {
		fmt.Fprintf(&tb, "    _seg_%d() +\n", seg)
	}
	tb.WriteString("    []\n)\n")
	write("big/table.py", tb.String())
	return total
}
