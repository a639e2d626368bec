package runner

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/sandbox"
)

// removedModules maps standard-library modules to the Python version that
// removed them (from the "What's New" pages), so that an import failure can
// be binned as "module removed" the way Fedora's mass rebuilds bin theirs.
var removedModules = map[string]string{
	"formatter": "3.10", "parser": "3.10", "symbol": "3.10",
	"binhex": "3.11",
	"imp":    "3.12", "distutils": "3.12", "asynchat": "3.12", "asyncore": "3.12", "smtpd": "3.12",
	"aifc": "3.13", "audioop": "3.13", "cgi": "3.13", "cgitb": "3.13", "chunk": "3.13", "crypt": "3.13",
	"imghdr": "3.13", "mailcap": "3.13", "msilib": "3.13", "nis": "3.13", "nntplib": "3.13",
	"ossaudiodev": "3.13", "pipes": "3.13", "sndhdr": "3.13", "spwd": "3.13", "sunau": "3.13",
	"telnetlib": "3.13", "uu": "3.13", "xdrlib": "3.13", "lib2to3": "3.13",
}

var (
	// "No module named 'imp'" (3.x) and "No module named imp" (2.7).
	noModule = regexp.MustCompile(`(?m)(?:ModuleNotFoundError|ImportError): No module named '?([A-Za-z0-9_.]+)'?`)
	// Errors a sealed sandbox produces when code reaches for the network:
	// no route (ENETUNREACH, 101) for addresses, no resolver for names.
	networkErr = regexp.MustCompile(`\[Errno 101\] Network is unreachable|\[Errno -3\] Temporary failure in name resolution|\[Errno -2\] Name or service not known|\[Errno -5\] No address associated with hostname|gaierror\(-[235],|OSError\(101, 'Network is unreachable'\)`)
	// A traceback's last line; pytest prefixes the lines of an error it
	// reports with "E".
	syntaxErr = regexp.MustCompile(`(?m)^(?:E)?\s*(?:File .*\n(?:.*\n){0,4}?)?(?:\w+\.)?(?:SyntaxError|TabError|IndentationError):`)
	// unittest's "FAILED (failures=1)", pytest's "==== 1 failed, 2 passed in 0.1s ====".
	testsFail = regexp.MustCompile(`(?m)^FAILED \((?:failures|errors)=|^=+ (?:.*, )?\d+ (?:failed|errors?)\b.* in [0-9.]+s`)
	ranNone   = regexp.MustCompile(`(?m)^Ran 0 tests? in `)
)

// classify explains a step that exited non-zero (or, for tests, ran
// nothing) from its log. The reasons are ordered from most to least
// specific: a removed module explains an import error, which explains a
// test failure.
func classify(step string, exitCode int, log []byte, in interpreter.Interpreter) (outcome.Status, string, string) {
	text := string(log)
	if step == outcome.StepTests && ranNone.MatchString(text) {
		return outcome.NoTests, outcome.ReasonNoTests, "the test runner found no tests"
	}
	if exitCode == 0 {
		return outcome.Passed, outcome.ReasonOK, ""
	}
	if m := networkErr.FindString(text); m != "" {
		return outcome.Failed, outcome.ReasonNeedsNetwork, "reached for the network in a sealed build: " + m
	}
	for _, m := range noModule.FindAllStringSubmatch(text, -1) {
		mod := strings.SplitN(m[1], ".", 2)[0]
		if since, ok := removedModules[mod]; ok && dist.CompareVersions(in.Minor, since) >= 0 {
			return outcome.Failed, outcome.ReasonModuleRemoved, fmt.Sprintf("imports %s, removed in Python %s", mod, since)
		}
	}
	if syntaxErr.MatchString(text) {
		return outcome.Failed, outcome.ReasonSyntaxError, "Python " + in.Minor + " cannot parse the code"
	}
	if m := noModule.FindStringSubmatch(text); m != nil {
		return outcome.Failed, outcome.ReasonImportError, "no module named " + m[1]
	}
	if step == outcome.StepTests && testsFail.MatchString(text) {
		return outcome.Failed, outcome.ReasonTestFailure, "tests failed"
	}
	return outcome.Failed, outcome.ReasonExitStatus, fmt.Sprintf("exited with status %d", exitCode)
}

// limitOutcome is the status, reason and detail of a step that a limit
// ended or broke (er.TimedOut, or er.LimitHit with a non-zero exit).
func limitOutcome(er sandbox.ExecResult, stepTimeout time.Duration) (outcome.Status, string, string) {
	switch er.LimitHit {
	case sandbox.LimitNoOutput:
		return outcome.ResourceLimit, outcome.ReasonTimeout, "printed nothing for too long (no-output timeout)"
	case sandbox.LimitMemory:
		return outcome.ResourceLimit, outcome.ReasonMemory, fmt.Sprintf("the memory limit's OOM killer ended a process (peak %d MiB)", er.MemoryPeak>>20)
	case sandbox.LimitDisk:
		return outcome.ResourceLimit, outcome.ReasonDisk, "the scratch outgrew its size or file cap"
	case sandbox.LimitLogSize:
		return outcome.ResourceLimit, outcome.ReasonLogSize, "printed more than the output cap"
	case sandbox.LimitPids:
		return outcome.ResourceLimit, outcome.ReasonPids, "a fork failed on the process cap"
	}
	return outcome.ResourceLimit, outcome.ReasonTimeout, fmt.Sprintf("no result within %s", stepTimeout)
}
