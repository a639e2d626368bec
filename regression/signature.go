package regression

// Signatures bin failures by cause, as Fedora's mass rebuilds do: a
// removed module (the runner's detail names it, matched against the
// interpreters' "What's New" removals), the build's own error line
// ("error in use2to3 setup command: use_2to3 is invalid"), or the last
// exception of a traceback, its type and its message normalised (numbers,
// addresses, paths and quoted names that vary from one package to the next
// set aside), so that the same breakage in many packages falls in one bin.

import (
	"regexp"
	"strings"

	"github.com/pysmoke/pysmoke/outcome"
)

// Signature is what a failure is binned by: one line, the same for the
// same cause in any package.
type Signature string

var (
	// "imports imp, removed in Python 3.12" (the runner's detail).
	removedDetail = regexp.MustCompile(`^imports ([A-Za-z0-9_.]+), (removed|new) in Python ([0-9.]+)`)
	// distutils' and setuptools' own error lines.
	setupCommandErr = regexp.MustCompile(`(?m)^error in \S+ setup command: (.+)$`)
	plainErr        = regexp.MustCompile(`(?m)^error: (.+)$`)
	// The last line of a traceback: "pkg.errors.SomeError: message", or a
	// bare exception type.
	exceptionLine = regexp.MustCompile(`(?m)^(?:E\s+)?((?:[A-Za-z_][A-Za-z0-9_]*\.)*[A-Z][A-Za-z0-9_]*(?:Error|Exception|Warning|Exit|Interrupt))(?::[ \t]*(.*))?$`)

	hexNumber = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	number    = regexp.MustCompile(`\b[0-9]+(?:\.[0-9]+)*\b`)
	path      = regexp.MustCompile(`(?:/[^\s'":,]+)+`)
	quoted    = regexp.MustCompile(`'[^']*'|"[^"]*"`)
)

// SignatureOf bins the failure of a step: its reason, its detail (as the
// runner wrote it) and its log. The signature names the reason first, so
// that bins of different reasons never merge.
func SignatureOf(reason, detail string, log []byte) Signature {
	if m := removedDetail.FindStringSubmatch(detail); m != nil {
		return Signature(reason + ": " + m[1] + " " + m[2] + " in Python " + m[3])
	}
	text := string(log)
	if m := lastMatch(setupCommandErr, text); m != nil {
		return Signature(reason + ": " + normalise(m[1]))
	}
	if m := lastException(text); m != nil {
		s := reason + ": " + m[1]
		if msg := normalise(m[2]); msg != "" {
			s += ": " + msg
		}
		return Signature(s)
	}
	if m := lastMatch(plainErr, text); m != nil {
		return Signature(reason + ": " + normalise(m[1]))
	}
	if reason == "" {
		reason = outcome.ReasonExitStatus
	}
	return Signature(reason)
}

// lastException is the last exception line of a log, a warning's only
// when no error's is there (warnings printed after a traceback are
// not what failed).
func lastException(text string) []string {
	all := exceptionLine.FindAllStringSubmatch(text, -1)
	for i := len(all) - 1; i >= 0; i-- {
		if !strings.HasSuffix(all[i][1], "Warning") {
			return all[i]
		}
	}
	if len(all) > 0 {
		return all[len(all)-1]
	}
	return nil
}

func lastMatch(re *regexp.Regexp, text string) []string {
	all := re.FindAllStringSubmatch(text, -1)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

// normalise sets aside what varies from one package to the next in a
// message: addresses, numbers, paths, quoted names; and trailing dots and
// spaces.
func normalise(msg string) string {
	// One line: a lone "\r" (old Mac line ends, progress bars) is none.
	msg = strings.TrimSpace(strings.ReplaceAll(msg, "\r", " "))
	msg = hexNumber.ReplaceAllString(msg, "0x?")
	msg = path.ReplaceAllString(msg, "<path>")
	msg = quoted.ReplaceAllString(msg, "'?'")
	msg = number.ReplaceAllString(msg, "N")
	msg = strings.TrimRight(msg, ". ")
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
