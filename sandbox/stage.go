package sandbox

// Staging: how the namespace backend, which starts bubblewrap as the
// sandbox's unprivileged uid, reaches what it mounts into a sandbox when
// the host does not let that uid reach it: interpreters under root's home
// (mode 700, where pyenv puts them), the toolchain in root's cache, a
// scratch under the service's data folder. The service, still root, bind
// mounts each of them (read-only but for the scratch) under a folder only
// root and the sandbox's group may enter, and bubblewrap mounts them from
// there at their own paths. The mounts are the sandbox's: made at Open,
// removed at Close; a service that was killed leaves its folder behind,
// and the next one removes it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
)

// stageRoot holds the staging folders, one per process; /run is a tmpfs,
// so nothing of it survives a reboot.
const stageRoot = "/run/pysmoke-sandbox"

var stageSeq atomic.Int64

// stage is one sandbox's staging folder and the mounts in it.
type stage struct {
	dir    string
	mounts []string // mount points, in order made
}

// newStage makes a sandbox's staging folder, only root and gid may enter.
func newStage(gid int) (*stage, error) {
	proc := filepath.Join(stageRoot, strconv.Itoa(os.Getpid()))
	for _, d := range []string{stageRoot, proc} {
		if err := os.Mkdir(d, 0o710); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("sandbox stage: %w", err)
		}
		// Whoever made it, it is root's and the sandbox group's only.
		if err := os.Chown(d, 0, gid); err != nil {
			return nil, fmt.Errorf("sandbox stage: %w", err)
		}
		if err := os.Chmod(d, 0o710); err != nil {
			return nil, fmt.Errorf("sandbox stage: %w", err)
		}
	}
	sweepStages()
	st := &stage{dir: filepath.Join(proc, strconv.FormatInt(stageSeq.Add(1), 10))}
	if err := os.Mkdir(st.dir, 0o710); err != nil {
		return nil, fmt.Errorf("sandbox stage: %w", err)
	}
	if err := os.Chown(st.dir, 0, gid); err != nil {
		os.Remove(st.dir)
		return nil, fmt.Errorf("sandbox stage: %w", err)
	}
	return st, nil
}

// bind mounts the host folder src under the stage and returns where; a
// read-only one is remounted so (a bind mount takes its flags from the
// remount, not from the first mount).
func (st *stage) bind(src string, readOnly bool) (string, error) {
	dst := filepath.Join(st.dir, strconv.Itoa(len(st.mounts)))
	if err := os.Mkdir(dst, 0o700); err != nil {
		return "", fmt.Errorf("sandbox stage: %w", err)
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		os.Remove(dst)
		return "", fmt.Errorf("sandbox stage: bind %s: %w", src, err)
	}
	st.mounts = append(st.mounts, dst)
	if readOnly {
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV)
		if err := syscall.Mount("", dst, "", flags, ""); err != nil {
			return "", fmt.Errorf("sandbox stage: read-only %s: %w", src, err)
		}
	}
	return dst, nil
}

// remove unmounts everything staged and removes the folder.
func (st *stage) remove() error {
	var first error
	for i := len(st.mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(st.mounts[i], syscall.MNT_DETACH); err != nil && first == nil {
			first = fmt.Errorf("sandbox stage: unmount %s: %w", st.mounts[i], err)
		}
		os.Remove(st.mounts[i])
	}
	st.mounts = nil
	if err := os.Remove(st.dir); err != nil && first == nil && !errors.Is(err, os.ErrNotExist) {
		first = fmt.Errorf("sandbox stage: %w", err)
	}
	return first
}

// sweepStages removes the staging folders of processes that are gone.
func sweepStages() {
	procs, _ := os.ReadDir(stageRoot)
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		dir := filepath.Join(stageRoot, p.Name())
		sandboxes, _ := os.ReadDir(dir)
		for _, sb := range sandboxes {
			mounts, _ := os.ReadDir(filepath.Join(dir, sb.Name()))
			for _, m := range mounts {
				mp := filepath.Join(dir, sb.Name(), m.Name())
				syscall.Unmount(mp, syscall.MNT_DETACH)
				os.Remove(mp)
			}
			os.Remove(filepath.Join(dir, sb.Name()))
		}
		os.Remove(dir)
	}
}
