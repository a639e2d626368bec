package sandbox

// The job's scratch: the one folder a sandbox writes to, and hostile
// ground for the host once package code has run in it. A step could have
// replaced any folder in it by a link to /etc, or left a FIFO where the
// host expects a file. So the host reaches it only through Root, a handle
// that never follows a link out of it (os.Root), never by path; and what
// the host makes in it is handed to the sandbox's identity.
//
// When the service runs as root the scratch is a filesystem of its own: an
// ext4 image in the scratch's parent folder, made sparse at the disk cap
// and loop-mounted (nosuid, nodev), with as many inodes as the file cap.
// A step that writes past the cap gets ENOSPC from the kernel, at once,
// and the filesystem that holds the store, the mirror and the image
// itself loses at most the cap. Otherwise (an ordinary user cannot mount)
// the scratch is a plain folder and the cap is checked from outside while
// a step runs (supervise.go).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Scratch is a job's scratch folder. Make it with NewScratch; Close
// removes it and everything in it.
type Scratch struct {
	dir    string
	root   *os.Root
	owner  Identity // who the host hands what it makes to; zero: nobody
	image  string   // the loop-mounted image, "" for a plain folder
	capped bool
}

// ScratchOptions say how to make a scratch.
type ScratchOptions struct {
	// Parent is the folder the scratch (and its image) are made in: the
	// service's data folder, never a folder other users share.
	Parent string
	// Limits: Disk and DiskFiles cap the scratch.
	Limits Limits
	// Owner is the sandbox identity that gets the scratch; zero: the
	// scratch stays the service's (the fake backend, an ordinary user).
	Owner Identity
	// Capped asks for a filesystem of its own (root only); false: a plain
	// folder.
	Capped bool
}

// NewScratch makes an empty scratch in opts.Parent.
func NewScratch(opts ScratchOptions) (*Scratch, error) {
	lim := opts.Limits.withDefaults()
	if err := os.MkdirAll(opts.Parent, 0o700); err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	// The parent is the service's alone: a scratch is reached by the
	// sandbox through a stage, never by others through the folder.
	if fi, err := os.Stat(opts.Parent); err == nil && fi.Mode().Perm()&0o077 != 0 && fi.Mode()&os.ModeSticky != 0 {
		return nil, fmt.Errorf("scratch: %s is a folder other users share (mode %v): give pysmoke a folder of its own", opts.Parent, fi.Mode())
	}
	dir, err := os.MkdirTemp(opts.Parent, "job-")
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	s := &Scratch{dir: dir, owner: opts.Owner}
	if opts.Capped {
		if err := s.mountImage(lim); err != nil {
			s.Close()
			return nil, err
		}
	}
	if s.root, err = os.OpenRoot(dir); err != nil {
		s.Close()
		return nil, fmt.Errorf("scratch: %w", err)
	}
	if err := s.handOver("."); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// mountImage makes the scratch's filesystem and mounts it on s.dir.
func (s *Scratch) mountImage(lim Limits) error {
	s.image = s.dir + ".img"
	f, err := os.OpenFile(s.image, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("scratch image: %w", err)
	}
	err = f.Truncate(lim.Disk) // sparse: it takes only what is written
	f.Close()
	if err != nil {
		return fmt.Errorf("scratch image: %w", err)
	}
	// No journal (a scratch need not survive a crash), no blocks reserved
	// for root, inodes for the file cap, the root folder the sandbox's.
	ext := "lazy_itable_init=1"
	if s.owner.UID > 0 {
		ext += fmt.Sprintf(",root_owner=%d:%d", s.owner.UID, s.owner.GID)
	}
	// One inode per 8 KiB at most: a small cap cannot hold the file cap's
	// inode tables.
	inodes := max(min(int64(lim.DiskFiles), lim.Disk/8192), 1024)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0",
		"-N", fmt.Sprint(inodes), "-E", ext, s.image).CombinedOutput(); err != nil {
		return fmt.Errorf("scratch image: mkfs.ext4 (Debian's e2fsprogs): %v: %s", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("mount", "-o", "loop,nosuid,nodev,noatime", s.image, s.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("scratch image: mount: %v: %s", err, strings.TrimSpace(string(out)))
	}
	s.capped = true
	// mkfs's lost+found is root's: not the sandbox's to see.
	os.Remove(filepath.Join(s.dir, "lost+found"))
	return nil
}

// cappedAvailable says what a capped scratch needs that this machine
// lacks (nil: nothing): root, mkfs.ext4 and mount, and a loop device.
func cappedAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("a scratch filesystem of its own needs root")
	}
	for _, c := range []string{"mkfs.ext4", "mount"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s not found (Debian's e2fsprogs and mount packages): %w", c, err)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("no loop devices (/dev/loop-control): the scratch's filesystem cannot be mounted: %w", err)
	}
	return nil
}

// Dir is the scratch's host path.
func (s *Scratch) Dir() string { return s.dir }

// Root is the handle the host reaches the scratch through.
func (s *Scratch) Root() *os.Root { return s.root }

// Capped reports whether the kernel caps the scratch's size and files.
func (s *Scratch) Capped() bool { return s.capped }

// Full reports whether the scratch's own filesystem has run out of space
// or files (a step that failed then failed for the cap).
func (s *Scratch) Full() bool {
	if !s.capped {
		return false
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return false
	}
	// Less than 1 MiB or no inode left: what the kernel answers ENOSPC at
	// (ext4 keeps a little back for its own metadata).
	return st.Bavail*uint64(st.Bsize) < 1<<20 || st.Ffree == 0
}

// MkdirAll makes the folder rel (slash-separated) and its parents in the
// scratch, without following links, and hands them to the sandbox.
func (s *Scratch) MkdirAll(rel string) error {
	rel = filepath.FromSlash(rel)
	if err := s.root.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	for p := rel; p != "." && p != string(filepath.Separator); p = filepath.Dir(p) {
		if err := s.chown(p); err != nil {
			return err
		}
	}
	return nil
}

// HandOver gives what the host made under rel (a tree, walked without
// following links) to the sandbox's identity.
func (s *Scratch) HandOver(rel string) error { return s.handOver(filepath.FromSlash(rel)) }

func (s *Scratch) handOver(rel string) error {
	if s.owner.UID <= 0 {
		return nil
	}
	return fs.WalkDir(s.root.FS(), filepath.ToSlash(rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return s.chown(filepath.FromSlash(p))
	})
}

func (s *Scratch) chown(rel string) error {
	if s.owner.UID <= 0 {
		return nil
	}
	if err := s.root.Lchown(rel, s.owner.UID, s.owner.GID); err != nil {
		return fmt.Errorf("scratch: hand %s to the sandbox: %w", rel, err)
	}
	return nil
}

// Close removes the scratch: its filesystem unmounted and its image
// deleted, or the folder removed. Every process of the sandbox must have
// ended (Sandbox.Close).
func (s *Scratch) Close() error {
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
	var errs []error
	if s.capped {
		if err := syscall.Unmount(s.dir, 0); err != nil {
			// Still busy (a process left, a stage mount): detach it, the
			// image goes with the last user.
			if err2 := syscall.Unmount(s.dir, syscall.MNT_DETACH); err2 != nil {
				errs = append(errs, fmt.Errorf("scratch: unmount %s: %w", s.dir, err))
			}
		}
		s.capped = false
	}
	if s.image != "" {
		if err := os.Remove(s.image); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("scratch: %w", err))
		}
	}
	// Nothing of the sandbox runs any more: a plain removal (which does
	// not follow links) cannot be raced.
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("scratch: %w", err))
	}
	return errors.Join(errs...)
}
