package regression

import (
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/outcome"
)

// steps reads "name=status[/reason][!]" words ("!" marks a confirmed
// resource-limit).
func steps(s string) []Step {
	var out []Step
	for _, w := range strings.Fields(s) {
		name, rest, _ := strings.Cut(w, "=")
		st := Step{Name: name}
		if strings.HasSuffix(rest, "!") {
			st.Confirmed, rest = true, strings.TrimSuffix(rest, "!")
		}
		status, reason, _ := strings.Cut(rest, "/")
		st.Status, st.Reason = outcome.Status(status), reason
		out = append(out, st)
	}
	return out
}

// The classes of pairs written by hand from the rules in the package
// comment, over the steps a job runs.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name, before, after string
		want                Class
		step                string
	}{
		{"all pass", "unpack=passed sdist=passed wheel=passed tests=passed", "unpack=passed sdist=passed wheel=passed tests=passed", SamePass, "sdist"},
		{"a removed module", "sdist=passed import=passed tests=passed", "sdist=passed import=failed/module-removed tests=failed/module-removed", Regressed, "import"},
		{"fixed", "sdist=failed/exit-status import=not-available/skipped", "sdist=passed import=passed", Fixed, "sdist"},
		{"regressed outranks fixed", "sdist=failed/exit-status tests=passed", "sdist=passed tests=failed/test-failure", Regressed, "tests"},
		{"fails both times", "sdist=failed/needs-network wheel=failed/needs-network", "sdist=failed/needs-network wheel=failed/needs-network", SameFailure, "sdist"},
		{"the machinery after", "sdist=passed tests=passed", "sdist=passed tests=machinery-error/sandbox-error", SpuriousRegressed, "tests"},
		{"the machinery before", "sdist=passed tests=machinery-error/toolchain-missing", "sdist=passed tests=passed", SpuriousFixed, "tests"},
		{"an unconfirmed limit", "tests=passed", "tests=resource-limit/timeout", SpuriousRegressed, "tests"},
		{"a confirmed limit", "tests=passed", "tests=resource-limit/memory!", Regressed, "tests"},
		{"a confirmed limit both times", "tests=resource-limit/timeout!", "tests=resource-limit/timeout!", SameFailure, "tests"},
		{"the machinery both times", "sdist=passed tests=machinery-error/dependency-unavailable", "sdist=passed tests=machinery-error/dependency-unavailable", Error, "tests"},
		{"same failure outranks error", "sdist=failed/exit-status tests=machinery-error/sandbox-error", "sdist=failed/exit-status tests=machinery-error/sandbox-error", SameFailure, "sdist"},
		{"rejected both times", "unpack=rejected/bad-sdist sdist=not-available/skipped", "unpack=rejected/bad-sdist sdist=not-available/skipped", Broken, "unpack"},
		{"rejected after", "unpack=passed sdist=passed", "unpack=rejected/bad-sdist sdist=not-available/skipped", Regressed, "unpack"},
		{"unsupported on a side", "unpack=passed sdist=declared-unsupported/requires-python tests=declared-unsupported/requires-python",
			"unpack=passed sdist=passed tests=passed", Skipped, ""},
		{"no tests is no pass", "sdist=passed tests=no-tests/no-tests", "sdist=passed tests=passed", SamePass, "sdist"},
		{"not available", "2to3=passed", "2to3=not-available/no-lib2to3", Skipped, ""},
		{"a step on one side only", "sdist=passed hooks=failed/exit-status", "sdist=passed", SamePass, "sdist"},
		{"needs-network is the package's", "sdist=passed", "sdist=failed/needs-network", Regressed, "sdist"},
	} {
		v := Classify(steps(c.before), steps(c.after))
		if v.Class != c.want || v.Step != c.step {
			t.Errorf("%s: %s, want %s on %q", c.name, v, c.want, c.step)
		}
	}
}

func TestVerdictSays(t *testing.T) {
	v := Classify(steps("tests=passed"), steps("tests=resource-limit/memory!"))
	if got, want := v.String(), "regressed (tests: passed -> resource-limit memory (confirmed))"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := Classify(nil, nil).String(); got != "skipped" {
		t.Errorf("nothing: %q", got)
	}
}
