// Package logtext turns a step's log, as the package's tools wrote it for
// a terminal, into the text a person reads: what a terminal would have left
// on screen. The log is the package's output, so it is hostile text: its
// escape sequences must reach neither a page nor the terminal of whoever
// reads a report (an OSC sequence sets a window title or a clipboard, a
// cursor move rewrites what was printed above it).
package logtext

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Terminal is log as a terminal would have left it on screen: invalid
// UTF-8 replaced, escape sequences (colours, cursor moves, titles, links)
// removed, and of a line redrawn with carriage returns (a progress bar)
// what the last redraw wrote. Control characters other than tabs and
// newlines are dropped.
func Terminal(log []byte) string {
	s := ansi.Strip(strings.ToValidUTF8(string(log), "\uFFFD"))
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = strings.Map(func(r rune) rune {
			if r == '\t' || (r >= 0x20 && r != 0x7f && (r < 0x80 || r > 0x9f)) {
				return r
			}
			return -1
		}, l)
	}
	return strings.Join(lines, "\n")
}

// Tail is the last lines of log (at most n), as Terminal reads them. Only
// the log's last maxTail bytes are read, from the first line that starts
// in them: a log may be 64 MiB.
func Tail(log []byte, n int) string {
	if len(log) > maxTail {
		log = log[len(log)-maxTail:]
		if i := strings.IndexByte(string(log), '\n'); i >= 0 {
			log = log[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(Terminal(log), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// maxTail bounds what Tail reads.
const maxTail = 256 << 10
