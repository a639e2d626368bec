// Package expected reads the hand-written expected outcomes of the sample
// packages (testdata/expected-outcomes.txt) for the tests and the demo
// check, and compares observed outcomes with them.
package expected

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Key names one step of one sample on one Python.
type Key struct {
	Sample, Python, Step string
}

// Outcome is a status and its reason code.
type Outcome struct {
	Status, Reason string
}

func (o Outcome) String() string {
	if o.Reason == "" {
		return o.Status
	}
	return o.Status + "/" + o.Reason
}

// Table maps every expected (sample, python, step) to its outcome.
type Table map[Key]Outcome

// knownPythons are the minor versions a range may span.
var knownPythons = []string{"2.7", "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"}

func expand(spec string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		i, j := index(lo), index(hi)
		if i < 0 || j < 0 || j < i {
			return nil, fmt.Errorf("bad python range %q", part)
		}
		out = append(out, knownPythons[i:j+1]...)
	}
	return out, nil
}

func index(py string) int {
	for i, k := range knownPythons {
		if k == py {
			return i
		}
	}
	return -1
}

// Load reads an expected-outcomes file. A (sample, python, step) named twice
// is an error.
func Load(path string) (Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := Table{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 4 && len(fields) != 5 {
			return nil, fmt.Errorf("%s:%d: want 4 or 5 fields, got %d", path, n, len(fields))
		}
		pys, err := expand(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		o := Outcome{Status: fields[3]}
		if len(fields) == 5 {
			o.Reason = fields[4]
		}
		for _, py := range pys {
			k := Key{fields[0], py, fields[2]}
			if _, dup := t[k]; dup {
				return nil, fmt.Errorf("%s:%d: %v named twice", path, n, k)
			}
			t[k] = o
		}
	}
	return t, sc.Err()
}

// Samples returns the sample names in the table, sorted.
func (t Table) Samples() []string {
	seen := map[string]bool{}
	for k := range t {
		seen[k.Sample] = true
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Compare checks observed outcomes of the given samples on the given
// Pythons against the table and returns one line per difference: a cell
// expected but not observed, observed but not expected, or different.
func (t Table) Compare(observed Table, samples, pythons []string) []string {
	inScope := func(k Key) bool {
		return contains(samples, k.Sample) && contains(pythons, k.Python)
	}
	var diffs []string
	for k, want := range t {
		if !inScope(k) {
			continue
		}
		got, ok := observed[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s %s %s: expected %s, not observed", k.Sample, k.Python, k.Step, want))
		case got != want:
			diffs = append(diffs, fmt.Sprintf("%s %s %s: expected %s, got %s", k.Sample, k.Python, k.Step, want, got))
		}
	}
	for k, got := range observed {
		if _, ok := t[k]; !ok && inScope(k) {
			diffs = append(diffs, fmt.Sprintf("%s %s %s: observed %s, not expected", k.Sample, k.Python, k.Step, got))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Changes returns those of pythons (oldest first) on either side of a
// change in sample's expected outcomes, and the oldest and the newest:
// the interpreters where running the sample tells what its neighbours
// do not. A Python with no line for the sample counts as a change.
func (t Table) Changes(sample string, pythons []string) []string {
	var steps []string
	for k := range t {
		if k.Sample == sample && !contains(steps, k.Step) {
			steps = append(steps, k.Step)
		}
	}
	sort.Strings(steps)
	column := func(py string) string {
		var b strings.Builder
		for _, st := range steps {
			o, ok := t[Key{Sample: sample, Python: py, Step: st}]
			fmt.Fprintf(&b, "%s=%v:%s;", st, ok, o)
		}
		return b.String()
	}
	keep := make([]bool, len(pythons))
	for i := range pythons {
		if i == 0 || i == len(pythons)-1 {
			keep[i] = true
		} else if column(pythons[i]) != column(pythons[i-1]) {
			keep[i], keep[i-1] = true, true
		}
	}
	if n := len(pythons); n > 1 && column(pythons[n-1]) != column(pythons[n-2]) {
		keep[n-2] = true
	}
	var out []string
	for i, py := range pythons {
		if keep[i] {
			out = append(out, py)
		}
	}
	return out
}
