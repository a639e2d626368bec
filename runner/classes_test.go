package runner_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/runner"
)

// sampleRuns are the steps of each sample's run on each Python (minor),
// as classification reads them.
type sampleRuns map[[2]string][]regression.Step

func (s sampleRuns) add(j runner.Job, res runner.Result) {
	var steps []regression.Step
	for _, st := range res.Steps {
		steps = append(steps, regression.Step{Name: st.Name, Status: st.Status, Reason: st.Reason})
	}
	s[[2]string{j.Project, j.Interpreter.Minor}] = steps
}

// checkClasses classifies the pairs of testdata/expected-classes.txt over
// the runs and compares each with the hand-written class.
func checkClasses(t *testing.T, runs sampleRuns, minors []string) {
	t.Helper()
	f, err := os.Open("../testdata/expected-classes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if len(fs) < 4 || len(fs) > 5 {
			t.Fatalf("expected-classes.txt: %q: sample, two Pythons, a class and maybe a step", sc.Text())
		}
		sample, want, step := fs[0], regression.Class(fs[3]), ""
		if len(fs) == 5 {
			step = fs[4]
		}
		pairs := [][2]string{{fs[1], fs[2]}}
		if fs[1] == "each" {
			pairs = nil
			for i := 1; i < len(minors); i++ {
				pairs = append(pairs, [2]string{minors[i-1], minors[i]})
			}
		}
		for _, p := range pairs {
			a, okA := runs[[2]string{sample, p[0]}]
			b, okB := runs[[2]string{sample, p[1]}]
			if !okA || !okB {
				t.Errorf("%s %s -> %s: not run", sample, p[0], p[1])
				continue
			}
			v := regression.Classify(a, b)
			if v.Class != want || (step != "" && v.Step != step) {
				t.Errorf("%s %s -> %s: %s, want %s %s", sample, p[0], p[1], v, want, step)
			}
		}
	}
}
