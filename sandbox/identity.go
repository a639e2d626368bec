package sandbox

// The host identity of a sandbox's processes. When the service runs as
// root, no process of a package may run as host root or keep any
// capability in the initial user namespace: the sysctls under /proc/sys,
// files owned by root and root's reserved disk blocks are guarded by uid
// 0, not by capabilities. So both backends run the steps as a uid and gid
// of pysmoke's own, nobody else's (not nobody, which other services
// share): the namespace backend starts bubblewrap as that uid, which then
// maps the sandbox's uid 65534 onto it; the Docker backend runs the
// container's processes as it.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Identity is the unprivileged host uid and gid a sandbox's processes run
// as. Keeper, the next uid, runs what a sandbox keeps alive besides the
// steps (the Docker container's init), so that a step cannot signal it.
type Identity struct {
	UID, GID int
}

// Keeper is the uid of what a sandbox keeps alive besides the steps.
func (id Identity) Keeper() int { return id.UID + 1 }

// DefaultUID is the sandbox's uid and gid when /etc/subuid and
// /etc/subgid give none for pysmoke: 0x70000000, above the ranges systemd
// gives containers (up to 0x6FFFFFFF) and below those it reserves.
const DefaultUID = 0x70000000

// SubIDUser is the user whose subordinate uid and gid ranges (in
// /etc/subuid and /etc/subgid, as useradd writes them) are the sandbox's:
// the first id of each range is the sandbox's, the next its keeper's.
const SubIDUser = "pysmoke"

// DefaultIdentity returns the sandbox identity of this machine: the first
// ids of the pysmoke ranges in /etc/subuid and /etc/subgid, else
// DefaultUID for both; and where it came from.
func DefaultIdentity() (Identity, string) {
	uid, uerr := subID("/etc/subuid", SubIDUser)
	gid, gerr := subID("/etc/subgid", SubIDUser)
	if uerr == nil && gerr == nil {
		return Identity{UID: uid, GID: gid}, fmt.Sprintf("the %s ranges of /etc/subuid and /etc/subgid", SubIDUser)
	}
	return Identity{UID: DefaultUID, GID: DefaultUID}, fmt.Sprintf("pysmoke's default (no %s entry in /etc/subuid and /etc/subgid)", SubIDUser)
}

// subID reads the first id of user's range in a subordinate id file
// ("name:first:count" lines); the range must hold at least two ids.
func subID(file, user string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || parts[0] != user {
			continue
		}
		first, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || first <= 0 || count < 2 {
			return 0, fmt.Errorf("%s: bad range for %s: %q", file, user, sc.Text())
		}
		return first, nil
	}
	return 0, fmt.Errorf("%s: no range for %s", file, user)
}

// check is what every backend checks of an identity before using
// it: never root, never the service's own uid.
func (id Identity) check() error {
	if id.UID <= 0 || id.GID <= 0 {
		return fmt.Errorf("sandbox identity %d:%d: a sandbox never runs as root", id.UID, id.GID)
	}
	if id.UID == os.Getuid() && os.Getuid() != 0 {
		return fmt.Errorf("sandbox identity %d: the service's own uid", id.UID)
	}
	return nil
}
