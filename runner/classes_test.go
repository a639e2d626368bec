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
func checkClasses(t *testing.T, runs sampleRuns, plan map[string][]string) {
	t.Helper()
	for _, c := range loadExpectedClasses(t) {
		pairs := [][2]string{{c.a, c.b}}
		if c.a == "each" {
			pairs = consecutive(plan[c.sample])
		}
		for _, p := range pairs {
			a, okA := runs[[2]string{c.sample, p[0]}]
			b, okB := runs[[2]string{c.sample, p[1]}]
			if !okA || !okB {
				t.Errorf("%s %s -> %s: not run", c.sample, p[0], p[1])
				continue
			}
			v := regression.Classify(a, b)
			if v.Class != c.class || (c.step != "" && v.Step != c.step) {
				t.Errorf("%s %s -> %s: %s, want %s %s", c.sample, p[0], p[1], v, c.class, c.step)
			}
		}
	}
}

// classCase is a line of testdata/expected-classes.txt: a is "each" for
// every pair of consecutive Pythons.
type classCase struct {
	sample, a, b string
	class        regression.Class
	step         string
}

func loadExpectedClasses(t *testing.T) []classCase {
	t.Helper()
	f, err := os.Open("../testdata/expected-classes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []classCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if len(fs) < 4 || len(fs) > 5 {
			t.Fatalf("expected-classes.txt: %q: sample, two Pythons, a class and maybe a step", sc.Text())
		}
		c := classCase{sample: fs[0], a: fs[1], b: fs[2], class: regression.Class(fs[3])}
		if len(fs) == 5 {
			c.step = fs[4]
		}
		out = append(out, c)
	}
	return out
}

// consecutive is the pairs of consecutive Pythons of minors.
func consecutive(minors []string) [][2]string {
	var pairs [][2]string
	for i := 1; i < len(minors); i++ {
		pairs = append(pairs, [2]string{minors[i-1], minors[i]})
	}
	return pairs
}
