package diff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkDiffWheels measures the time to compute the diff between two
// cells' wheels of a 10 MB project (400 modules of 25 KB, ten of them
// changed, one added), against the bare alternative on the same files:
// unzip both and "diff -ru" the trees (no normalisation, no metadata
// fields). Interleaved, each round both ways; medians reported.
func BenchmarkDiffWheels(b *testing.B) {
	if _, err := exec.LookPath("unzip"); err != nil {
		b.Skip("unzip is not installed (Debian's unzip)")
	}
	module := func(m int, changed bool) string {
		var sb strings.Builder
		for c := 0; sb.Len() < 25_000; c++ {
			fmt.Fprintf(&sb, "def f_%d_%d(x):\n    return x * %d\n\n", m, c, c)
		}
		if changed {
			sb.WriteString("CHANGED = True\n")
		}
		return sb.String()
	}
	wheel := func(generator string, changed bool) string {
		files := map[string]string{
			"big-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: big\nVersion: 1.0\n\n",
			"big-1.0.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: " + generator + "\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		}
		for m := range 400 {
			files[fmt.Sprintf("big/mod%03d.py", m)] = module(m, changed && m%40 == 0)
		}
		if changed {
			files["big/added.py"] = "ADDED = 1\n"
		}
		return writeWheel(b, "big-1.0-py3-none-any.whl", files)
	}
	a := wheel("bdist_wheel (0.38.4)", false)
	c := wheel("bdist_wheel (0.46.1)", true)
	var ours, bare []time.Duration
	for range b.N {
		start := time.Now()
		r, err := Archives(Side{Label: "a", Path: a, Python: "3.11.7"}, Side{Label: "b", Path: c, Python: "3.12.1"})
		if err != nil || len(r.Changed) != 10 || len(r.Added) != 1 {
			b.Fatalf("diff: %v, %d changed, %d added", err, len(r.Changed), len(r.Added))
		}
		ours = append(ours, time.Since(start))

		start = time.Now()
		tmp := b.TempDir()
		for i, w := range []string{a, c} {
			if out, err := exec.Command("unzip", "-q", w, "-d", filepath.Join(tmp, fmt.Sprint(i))).CombinedOutput(); err != nil {
				b.Fatalf("unzip: %v %s", err, out)
			}
		}
		out, _ := exec.Command("diff", "-ru", filepath.Join(tmp, "0"), filepath.Join(tmp, "1")).Output()
		if len(out) == 0 {
			b.Fatal("diff -ru found nothing")
		}
		bare = append(bare, time.Since(start))
		os.RemoveAll(tmp)
	}
	mo, mb := medianOf(ours), medianOf(bare)
	b.ReportMetric(float64(mo)/float64(time.Millisecond), "diff-ms")
	b.ReportMetric(float64(mb)/float64(time.Millisecond), "unzip+diff-ru-ms")
	b.ReportMetric(float64(mo)/float64(mb), "diff/bare")
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
