package main

import (
	"context"
	"fmt"
	"io"

	"github.com/pysmoke/pysmoke/sandbox"
)

const imageSynopsis = `Usage: pysmoke image [flags]

Builds the Docker sandbox's image from Debian's packages (debootstrap, then
an import into the engine; no registry is needed) unless the image of the
current recipe is there already, and prints its tag. Needs root and
Debian's debootstrap package; takes about 70 s and 470 MB.`

func cmdImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("image", imageSynopsis, stderr)
	workDir := fs.String("work-dir", "", "where the root filesystem is assembled (default: the system's temporary folder)")
	host := fs.String("docker-host", "", "the Docker engine's address (default: $DOCKER_HOST, else the local socket)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	d := &sandbox.Docker{Host: *host}
	tag, err := d.BuildImage(ctx, *workDir, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tag)
	return nil
}
