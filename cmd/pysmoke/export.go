package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pysmoke/pysmoke/service"
)

const exportSynopsis = `Usage: pysmoke export [flags] DIR

Writes the reports of a service's data folder as a static site under DIR:
the overview and its pages, every project page, interpreter page, diff
page and step log the pages link, each project's badges (overall, per
Python, the Pythons it works on), feeds and JSON, at the paths the
service serves them on (a folder's page as its index.html). Links hold no
query string: the overview's pages are /page/N/, diffs
/project/NAME/diff/A/B/.

Run it again to bring DIR up to date: a file is rewritten only when it
changed (through a temporary file and a rename), and what the last export
wrote and this one does not produce is removed; nothing else in DIR is
touched. The service need not be stopped.

A web server hosting DIR must send .log files as text/plain, .rss and
.atom as feeds and .json as JSON; for nginx:

  types { text/plain log; application/rss+xml rss; application/atom+xml atom;
          application/json json; image/svg+xml svg; text/html html; }`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", exportSynopsis+configHelp, stderr)
	dataDir := fs.String("data", "pysmoke-data", "the service's data folder (pysmoke serve --data)")
	database := databaseFlag(fs)
	baseURL := fs.String("base-url", "", "the URL the site will be hosted at, e.g. https://example.org/smoke/ (its path prefixes every link; feeds carry it whole); default the root")
	quiet := fs.Bool("quiet", false, "print no progress")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2}
	}
	start := time.Now()
	last := time.Time{}
	progress := func(done, known int) {
		if *quiet || time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "export: %d files of %d known so far\n", done, known)
	}
	st, err := service.Export(ctx, *dataDir, *database, fs.Arg(0), *baseURL, progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported to %s in %s: %d written, %d unchanged, %d removed\n", fs.Arg(0),
		time.Since(start).Round(time.Millisecond), st.Written, st.Unchanged, st.Removed)
	for _, s := range st.Skipped {
		fmt.Fprintf(stderr, "export: not exported: %s\n", s)
	}
	return nil
}
