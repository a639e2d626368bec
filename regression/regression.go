// Package regression classifies a pair of runs of one release (or of two
// releases) in crater's classes: whether what changed between the two
// sides (two releases on one interpreter, two interpreters for one
// release, a baseline and a candidate toolchain or interpreter) broke the
// package, fixed it, or changed nothing, and whether the change can be
// believed.
//
// The reason decides, step by step:
//   - passed is a pass; failed and rejected are the package's failures,
//     needs-network included;
//   - resource-limit is a failure only once confirmed (a retry reproduced
//     it); unconfirmed, like machinery-error, it is pysmoke's or the
//     machine's, and a change it takes part in is spurious;
//   - declared-unsupported, not-available and no-tests are neither pass nor
//     fail: a step with one on either side is not compared.
//
// A cell's class is that of its most telling step (Classes is the order).
// The package reads statuses only; it imports nothing of pysmoke's but
// outcome, and the store, the reports and the experiments use it.
package regression

import (
	"fmt"

	"github.com/pysmoke/pysmoke/outcome"
)

// Class is the class of a pair of runs.
type Class string

const (
	// Regressed: a step passed before and fails after, for the package's
	// reasons.
	Regressed Class = "regressed"
	// SpuriousRegressed: it looks regressed, but the machinery failed, or
	// a resource limit that no retry confirmed ended it, on a side.
	SpuriousRegressed Class = "spurious-regressed"
	// Fixed: a step failed before and passes after.
	Fixed Class = "fixed"
	// SpuriousFixed: it looks fixed, but the failure before was the
	// machinery's or an unconfirmed limit's.
	SpuriousFixed Class = "spurious-fixed"
	// Broken: the release could not be used on either side (its sdist
	// was rejected both times): the change has nothing to do with it.
	Broken Class = "broken"
	// SameFailure: a step fails on both sides for the package's reasons.
	SameFailure Class = "same-failure"
	// Error: the machinery failed on both sides of a step: nothing was
	// compared there.
	Error Class = "error"
	// SamePass: every compared step passes on both sides.
	SamePass Class = "same-pass"
	// Skipped: no step could be compared (not applicable, unsupported or
	// without tests on a side, or missing on one).
	Skipped Class = "skipped"
)

// Classes lists the classes from the most telling down: a cell's class is
// the first any of its steps has.
var Classes = []Class{Regressed, SpuriousRegressed, Fixed, SpuriousFixed, Broken, SameFailure, Error, SamePass, Skipped}

// Step is one step of a run, as classification reads it.
type Step struct {
	Name   string
	Status outcome.Status
	Reason string
	// Confirmed: a resource-limit a retry reproduced, which then counts
	// as the package's failure.
	Confirmed bool
}

// Verdict is the class of a pair, and the step that decided it.
type Verdict struct {
	Class Class
	// Step is the deciding step ("" for skipped), and Before and After
	// its status (and reason) on each side.
	Step          string
	Before, After string
}

func (v Verdict) String() string {
	if v.Step == "" {
		return string(v.Class)
	}
	return fmt.Sprintf("%s (%s: %s -> %s)", v.Class, v.Step, v.Before, v.After)
}

// side is what a step's status counts as.
type side int

const (
	notCompared side = iota
	pass
	fail
	spurious // the machinery's, or an unconfirmed limit
	rejected
)

func sideOf(s Step) side {
	switch s.Status {
	case outcome.Passed:
		return pass
	case outcome.Failed:
		return fail
	case outcome.Rejected:
		return rejected
	case outcome.ResourceLimit:
		if s.Confirmed {
			return fail
		}
		return spurious
	case outcome.Machinery:
		return spurious
	}
	return notCompared
}

// stepClass classifies one step present on both sides.
func stepClass(a, b Step) Class {
	sa, sb := sideOf(a), sideOf(b)
	if sa == rejected && sb == rejected {
		return Broken
	}
	// One rejected sdist is the package's failure on that side.
	if sa == rejected {
		sa = fail
	}
	if sb == rejected {
		sb = fail
	}
	switch {
	case sa == notCompared || sb == notCompared:
		return Skipped
	case sa == spurious && sb == spurious:
		return Error
	case sa == pass && sb == pass:
		return SamePass
	case sa == fail && sb == fail:
		return SameFailure
	case sa == pass && sb == fail:
		return Regressed
	case sa == fail && sb == pass:
		return Fixed
	case sb == spurious: // after: the machinery's
		if sa == pass {
			return SpuriousRegressed
		}
		return SpuriousFixed // a failure, then nothing known
	default: // sa == spurious: before, the machinery's
		if sb == fail {
			return SpuriousRegressed
		}
		return SpuriousFixed
	}
}

// Classify classifies a pair of runs, before and after, by their steps:
// each step present on both sides is classified, and the most telling
// step's class is the pair's.
func Classify(before, after []Step) Verdict {
	rank := map[Class]int{}
	for i, c := range Classes {
		rank[c] = i
	}
	v := Verdict{Class: Skipped}
	for _, a := range before {
		for _, b := range after {
			if a.Name != b.Name {
				continue
			}
			c := stepClass(a, b)
			// Unpacking happens on the host before anything of the
			// release runs: that it passed on both sides says nothing
			// of the change (a release its Requires-Python keeps off
			// one side unpacks there too).
			if a.Name == outcome.StepUnpack && c == SamePass {
				continue
			}
			if c == Skipped || rank[c] >= rank[v.Class] {
				continue
			}
			v = Verdict{Class: c, Step: a.Name, Before: describe(a), After: describe(b)}
		}
	}
	return v
}

func describe(s Step) string {
	d := string(s.Status)
	if s.Reason != "" {
		d += " " + s.Reason
	}
	if s.Status == outcome.ResourceLimit && s.Confirmed {
		d += " (confirmed)"
	}
	return d
}
