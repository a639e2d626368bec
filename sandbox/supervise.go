package sandbox

// Supervision of a running step from outside the sandbox: the wall-clock
// and no-output timeouts, the output cap and (where the kernel does not
// cap it, scratch.go) the scratch's disk use are all checked here, never
// by anything inside the sandbox, and a limit that passes ends the step
// through the backend's kill (a cgroup kill, or the container's
// processes).

import (
	"context"
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// stepWatch supervises one step. kill must end every process of the step
// and may be called more than once.
type stepWatch struct {
	mu   sync.Mutex
	hit  string
	done chan struct{}
	wg   sync.WaitGroup
}

// watchStep starts supervising a step that writes its output to log and
// whose scratch is on the host (nil: none). A scratch the kernel caps is
// not polled. Call stop when the step's process has ended; it returns the
// limit that ended it, if any.
func watchStep(ctx context.Context, c Command, lim Limits, sc *Scratch, log *capWriter, kill func()) *stepWatch {
	scratch := ""
	if sc != nil && !sc.Capped() {
		scratch = sc.Dir()
	}
	w := &stepWatch{done: make(chan struct{})}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	start := time.Now()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		wall := time.NewTimer(timeout)
		defer wall.Stop()
		lastDisk := time.Now()
		for {
			var hit string
			select {
			case <-w.done:
				return
			case <-ctx.Done():
				kill()
				return
			case <-wall.C:
				hit = LimitTimeout
			case <-tick.C:
				total, last := log.progress()
				switch {
				case lim.Output > 0 && total > lim.Output:
					hit = LimitLogSize
				case c.NoOutputTimeout > 0 && time.Since(maxTime(last, start)) > c.NoOutputTimeout:
					hit = LimitNoOutput
				case scratch != "" && lim.Disk > 0 && time.Since(lastDisk) > 500*time.Millisecond:
					lastDisk = time.Now()
					if !diskWithin(scratch, lim.Disk, lim.DiskFiles) {
						hit = LimitDisk
					}
				}
			}
			if hit != "" {
				w.mu.Lock()
				if w.hit == "" {
					w.hit = hit
				}
				w.mu.Unlock()
				kill()
				// Keep killing until the step is gone: a kill may race a
				// fork.
				wall.Reset(time.Second)
			}
		}
	}()
	return w
}

// stop ends the supervision and returns the limit that ended the step.
func (w *stepWatch) stop() string {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// diskWithin reports whether the tree at dir holds at most maxBytes of
// allocated blocks (a sparse file counts for what it uses) and maxFiles
// entries. Links are not followed.
func diskWithin(dir string, maxBytes int64, maxFiles int) bool {
	var used int64
	n := 0
	over := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		n++
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				used += st.Blocks * 512
			}
		}
		if used > maxBytes || (maxFiles > 0 && n > maxFiles) {
			over = true
			return filepath.SkipAll
		}
		return nil
	})
	return !over
}
