package sandbox

// The Docker backend's image, built here without a registry: debootstrap
// makes a Debian root from Debian's packages, and the engine imports it
// as a tarball. Its tag is a hash of the recipe.

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// The image recipe: Debian bookworm's minimal base with the shared
// libraries the pyenv interpreters link against and a compiler for C
// extensions. Changing any of it changes the tag, so a stale image is
// never used.
var imageRecipe = struct {
	Suite, Variant, Mirror string
	Include                []string
	Fixups                 string
}{
	Suite: "bookworm", Variant: "minbase", Mirror: "http://deb.debian.org/debian",
	Include: []string{"libbz2-1.0", "libcrypt1", "libexpat1", "libffi8", "liblzma5", "libncursesw6",
		"libnsl2", "libreadline8", "libsqlite3-0", "libssl3", "libtinfo6", "libtirpc3", "libuuid1",
		"zlib1g", "libgdbm6", "gcc", "libc6-dev"},
	// /root 755 so that the steps' uid reaches interpreters mounted under it;
	// /tmp 1777; no apt caches. /sbin a folder of links rather than a link
	// into /usr: /usr is mounted over from a volume (docker_usr.go), and
	// Docker mounts its init at /sbin/docker-init.
	Fixups: "chmod 755 root; chmod 1777 tmp; rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/*; " +
		`rm sbin && mkdir sbin && for f in usr/sbin/*; do ln -s "../$f" sbin/; done`,
}

// ImageRepo is the repository of the images `pysmoke image` builds.
const ImageRepo = "pysmoke-sandbox"

// DefaultImage is the tag of the image built from the current recipe.
func DefaultImage() string {
	b, _ := json.Marshal(imageRecipe)
	h := sha256.Sum256(b)
	return ImageRepo + ":" + hex.EncodeToString(h[:6])
}

// BuildImage builds DefaultImage with debootstrap and imports it into the
// engine, unless it is there already; progress goes to log. It needs root
// (debootstrap) and Debian's debootstrap package.
func (d *Docker) BuildImage(ctx context.Context, workDir string, log io.Writer) (string, error) {
	cli, err := d.client()
	if err != nil {
		return "", err
	}
	tag := DefaultImage()
	if _, err := cli.ImageInspect(ctx, tag); err == nil {
		fmt.Fprintf(log, "image %s is already there\n", tag)
		if _, err := d.usrVolume(ctx, tag); err != nil {
			return "", err
		}
		return tag, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("the Docker engine: %w", err)
	}
	ds, err := exec.LookPath("debootstrap")
	if err != nil {
		return "", errors.New("debootstrap not found: install Debian's debootstrap package (apt-get install debootstrap)")
	}
	if workDir == "" {
		workDir = os.TempDir()
	}
	tmp, err := os.MkdirTemp(workDir, "pysmoke-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	rootfs := filepath.Join(tmp, "rootfs")
	r := imageRecipe
	fmt.Fprintf(log, "debootstrap %s (%s) into %s: about 70 s\n", r.Suite, r.Variant, rootfs)
	cmd := exec.CommandContext(ctx, ds, "--variant="+r.Variant, "--include="+strings.Join(r.Include, ","), r.Suite, rootfs, r.Mirror)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("debootstrap: %w", err)
	}
	fix := exec.CommandContext(ctx, "/bin/sh", "-c", r.Fixups)
	fix.Dir = rootfs
	fix.Stdout, fix.Stderr = log, log
	if err := fix.Run(); err != nil {
		return "", fmt.Errorf("image fixups: %w", err)
	}
	fmt.Fprintf(log, "importing %s\n", tag)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarTree(rootfs, pw)) }()
	resp, err := cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, tag, client.ImageImportOptions{
		Changes: []string{`CMD ["sleep", "infinity"]`},
	})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("image import: %w", err)
	}
	defer resp.Close()
	// The import is finished only when its response has been read to the
	// end; an error may come in the stream.
	dec := json.NewDecoder(resp)
	for {
		var m struct {
			Status, Error string
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("image import: %w", err)
		}
		if m.Error != "" {
			return "", fmt.Errorf("image import: %s", m.Error)
		}
	}
	if _, err := cli.ImageInspect(ctx, tag); err != nil {
		return "", fmt.Errorf("image import: %s not there after import: %w", tag, err)
	}
	fmt.Fprintf(log, "copying its /usr into a volume the jobs mount (docker_usr.go)\n")
	if _, err := d.usrVolume(ctx, tag); err != nil {
		return "", err
	}
	if gone, err := d.pruneUsrVolumes(ctx); err != nil {
		fmt.Fprintf(log, "stale /usr volumes left: %v\n", err)
	} else if len(gone) > 0 {
		fmt.Fprintf(log, "removed the /usr volumes of images no longer there: %s\n", strings.Join(gone, ", "))
	}
	fmt.Fprintf(log, "built %s\n", tag)
	return tag, nil
}

// tarTree writes dir as a tar stream, keeping owners, modes and links.
func tarTree(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil // sockets and the like: not part of an image
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
