package runner

import (
	"fmt"
	"regexp"
	"strings"
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
func classify(step string, exitCode int, log []byte, in Interpreter) (Status, string, string) {
	text := string(log)
	if step == StepTests && ranNone.MatchString(text) {
		return NoTests, ReasonNoTests, "the test runner found no tests"
	}
	if exitCode == 0 {
		return Passed, ReasonOK, ""
	}
	if m := networkErr.FindString(text); m != "" {
		return Failed, ReasonNeedsNetwork, "reached for the network in a sealed build: " + m
	}
	for _, m := range noModule.FindAllStringSubmatch(text, -1) {
		mod := strings.SplitN(m[1], ".", 2)[0]
		if since, ok := removedModules[mod]; ok && compareVersion(in.Minor, since) >= 0 {
			return Failed, ReasonModuleRemoved, fmt.Sprintf("imports %s, removed in Python %s", mod, since)
		}
	}
	if syntaxErr.MatchString(text) {
		return Failed, ReasonSyntaxError, "Python " + in.Minor + " cannot parse the code"
	}
	if m := noModule.FindStringSubmatch(text); m != nil {
		return Failed, ReasonImportError, "no module named " + m[1]
	}
	if step == StepTests && testsFail.MatchString(text) {
		return Failed, ReasonTestFailure, "tests failed"
	}
	return Failed, ReasonExitStatus, fmt.Sprintf("exited with status %d", exitCode)
}
