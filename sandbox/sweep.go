package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// What a service killed with SIGKILL leaves behind, and what its next
// start removes before it takes new jobs (Sweep): the step groups of
// processes that are gone, frozen ones included, with what they hold
// (sweepGroups), the staging folders (sweepStages, at the first Open),
// the jobs' scratch under the service's data folder, and, on Docker, the
// containers of those jobs.

// Sweeper is a backend with something of its own to sweep: the Docker
// backend's containers.
type Sweeper interface {
	// SweepUnder removes what the backend made for the jobs whose scratch
	// is under dir; no job may run there.
	SweepUnder(ctx context.Context, dir string) (int, error)
}

// Swept counts what a Sweep removed.
type Swept struct {
	Scratches, Containers int
}

// Sweep removes what dead services left of the sandboxes whose scratch is
// under scratchParent (a service's own folder: no job may run there when
// it is called), with backend's own leftovers; and the step groups of
// every dead service. Call it at start, before any job.
func Sweep(ctx context.Context, backend Backend, scratchParent string) (Swept, error) {
	var sw Swept
	var errs []error
	if s, ok := backend.(Sweeper); ok {
		n, err := s.SweepUnder(ctx, scratchParent)
		sw.Containers = n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if d, err := detectCgroups(); err == nil {
		sweepGroups(d)
	}
	n, err := sweepScratch(scratchParent)
	sw.Scratches = n
	if err != nil {
		errs = append(errs, err)
	}
	return sw, errors.Join(errs...)
}

// sweepScratch removes every job scratch under parent: each capped one's
// filesystem unmounted (detached when still busy) and its image deleted,
// each folder removed without following a link out of it.
func sweepScratch(parent string) (int, error) {
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep scratch: %w", err)
	}
	var errs []error
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "job-") {
			continue
		}
		p := filepath.Join(parent, name)
		if strings.HasSuffix(name, ".img") {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		// A mount point (a capped scratch), or not: EINVAL then.
		if err := syscall.Unmount(p, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				errs = append(errs, fmt.Errorf("sweep scratch: unmount %s: %w", p, err))
				continue
			}
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("sweep scratch: %w", err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// SweepUnder removes the containers of the jobs whose scratch is under
// dir (ContainersUnder), running or not.
func (d *Docker) SweepUnder(ctx context.Context, dir string) (int, error) {
	ids, err := d.ContainersUnder(ctx, dir)
	if err != nil {
		return 0, fmt.Errorf("sweep containers: %w", err)
	}
	cli, err := d.client()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range ids {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
		cancel()
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep containers: %w", err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
