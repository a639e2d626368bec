package sandbox

// The image's /usr, served from a volume. An engine whose storage driver
// is fuse-overlayfs (rootless or nested engines, as on this project's
// machines) answers every open and stat of a container's root file system
// in a user-space daemon: a python -c pass takes twice as long inside as
// outside, and a job's steps start thousands of processes. The image is
// merged-/usr (/bin, /lib and /sbin lead into /usr), so nearly every file
// a step reads is under /usr. Docker copies an image's folder into an empty
// named volume the first time the volume is mounted there, and a volume is
// a plain folder of the engine's host, bind-mounted: mounted read-only over
// /usr it holds the same bytes as the image and reads at the host's speed.
// Every container shares it read-only, so nothing a job does can reach the
// next job through it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// usrMarker is written into a volume once Docker's copy of the image's
// /usr is complete: a volume without it (a copy cut short) is made again.
const usrMarker = "/usr/.pysmoke-usr-complete"

// usrVolume returns the volume holding img's /usr, making it on first use
// (about 5 s for pysmoke's image). The volume is named after the image's
// ID, so a rebuilt image never meets another image's /usr.
func (d *Docker) usrVolume(ctx context.Context, img string) (string, error) {
	d.usrMu.Lock()
	defer d.usrMu.Unlock()
	if v, ok := d.usrVolumes[img]; ok {
		return v, nil
	}
	cli, err := d.client()
	if err != nil {
		return "", err
	}
	ii, err := cli.ImageInspect(ctx, img)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	name, ok := usrVolumeName(ii.ID)
	if !ok {
		return "", fmt.Errorf("image %s: unexpected ID %q", img, ii.ID)
	}
	switch _, err := cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); {
	case err == nil:
		// There: complete, unless an earlier copy was cut short.
		if d.runOnce(ctx, img, name, true, "/usr/bin/test", "-e", usrMarker) == nil {
			break
		}
		if _, err := cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true}); err != nil {
			return "", fmt.Errorf("remove incomplete volume %s: %w", name, err)
		}
		fallthrough
	case cerrdefs.IsNotFound(err):
		if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: map[string]string{"pysmoke": "usr", "pysmoke.image": img}}); err != nil {
			return "", fmt.Errorf("create volume %s: %w", name, err)
		}
		// Mounting the empty volume read-write at /usr makes Docker copy
		// the image's /usr into it before the command runs.
		if err := d.runOnce(ctx, img, name, false, "/usr/bin/touch", usrMarker); err != nil {
			return "", fmt.Errorf("fill volume %s with %s's /usr: %w", name, img, err)
		}
	default:
		return "", fmt.Errorf("volume %s: %w", name, err)
	}
	if d.usrVolumes == nil {
		d.usrVolumes = map[string]string{}
	}
	d.usrVolumes[img] = name
	return name, nil
}

// usrVolumeName names the /usr volume of the image with ID id.
func usrVolumeName(id string) (string, bool) {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) < 12 {
		return "", false
	}
	return "pysmoke-usr-" + id[:12], true
}

// runOnce runs argv in a throwaway container of img with volume at /usr
// (read-only when ro), and reports whether it exited 0.
func (d *Docker) runOnce(ctx context.Context, img, volume string, ro bool, argv ...string) error {
	cli, err := d.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image:  img,
		Config: &container.Config{Cmd: argv, User: "0:0", NetworkDisabled: true, Labels: map[string]string{"pysmoke": "usr-volume"}},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: volume, Target: "/usr", ReadOnly: ro}},
		},
	})
	if err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	defer cli.ContainerRemove(context.WithoutCancel(ctx), cr.ID, client.ContainerRemoveOptions{Force: true})
	wait := cli.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cli.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return errors.New(r.Error.Message)
		}
		if r.StatusCode != 0 {
			return fmt.Errorf("%s exited %d", strings.Join(argv, " "), r.StatusCode)
		}
		return nil
	case err := <-wait.Error:
		if errors.Is(err, io.EOF) {
			return errors.New("the engine closed the wait")
		}
		return fmt.Errorf("wait: %w", err)
	}
}

// pruneUsrVolumes removes the /usr volumes of images that are gone or were
// rebuilt under their name since, and returns their names. A volume in use
// is left alone.
func (d *Docker) pruneUsrVolumes(ctx context.Context) ([]string, error) {
	cli, err := d.client()
	if err != nil {
		return nil, err
	}
	list, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", "pysmoke=usr")})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var removed []string
	for _, v := range list.Items {
		img := v.Labels["pysmoke.image"]
		ii, err := cli.ImageInspect(ctx, img)
		switch {
		case img == "":
		case err == nil:
			if name, _ := usrVolumeName(ii.ID); name == v.Name {
				continue // still the image's
			}
		case err != nil && !cerrdefs.IsNotFound(err):
			return removed, fmt.Errorf("image %s: %w", img, err)
		}
		if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err == nil {
			removed = append(removed, v.Name)
		}
	}
	return removed, nil
}
