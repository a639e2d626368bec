package sandbox

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
)

// The filter's programs are run here in golang.org/x/net/bpf's
// interpreter, for both architectures, over struct seccomp_data built by
// hand. The calls' numbers are written out from the kernel's tables, not
// taken from seccompArches, so that a wrong number there fails.

const (
	auditX86_64  = 0xc000003e
	auditI386    = 0x40000003
	auditAArch64 = 0xc00000b7
	auditARM     = 0x40000028
)

// A seccompCall is one system call as the filter sees it.
type seccompCall struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// data is struct seccomp_data as the kernel lays it out on both
// architectures: int nr, __u32 arch, __u64 instruction_pointer,
// __u64 args[6], little-endian.
func (c seccompCall) data() []byte {
	b := make([]byte, 0, 64)
	b = binary.LittleEndian.AppendUint32(b, c.nr)
	b = binary.LittleEndian.AppendUint32(b, c.arch)
	b = binary.LittleEndian.AppendUint64(b, 0x7f0000001000) // instruction_pointer: never read
	for _, a := range c.args {
		b = binary.LittleEndian.AppendUint64(b, a)
	}
	return b
}

// seccompVM loads a program as bubblewrap hands it to the kernel.
func seccompVM(t *testing.T, prog []byte) *bpf.VM {
	t.Helper()
	if len(prog) == 0 || len(prog)%8 != 0 {
		t.Fatalf("program of %d bytes", len(prog))
	}
	var insns []bpf.Instruction
	for i := 0; i < len(prog); i += 8 {
		raw := bpf.RawInstruction{
			Op: binary.LittleEndian.Uint16(prog[i:]),
			Jt: prog[i+2],
			Jf: prog[i+3],
			K:  binary.LittleEndian.Uint32(prog[i+4:]),
		}
		in := raw.Disassemble()
		switch in := in.(type) {
		case bpf.LoadAbsolute:
			// Only whole, aligned words inside struct seccomp_data.
			if in.Size != 4 || in.Off%4 != 0 || in.Off >= 64 {
				t.Fatalf("instruction %d: %v", i/8, in)
			}
		case bpf.JumpIf, bpf.RetConstant:
		default:
			t.Fatalf("instruction %d: unexpected %#v", i/8, in)
		}
		insns = append(insns, in)
	}
	if len(insns) > 4096 { // BPF_MAXINSNS
		t.Fatalf("%d instructions; the kernel takes at most 4096", len(insns))
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// runSeccomp returns the filter's verdict for c. The interpreter loads words
// big-endian, as from a network packet; the kernel loads seccomp_data in
// the machine's order. Each 32-bit word is swapped, so that the
// interpreter reads the value the kernel would.
func runSeccomp(t *testing.T, vm *bpf.VM, c seccompCall) uint32 {
	t.Helper()
	in := c.data()
	for i := 0; i < len(in); i += 4 {
		binary.BigEndian.PutUint32(in[i:], binary.LittleEndian.Uint32(in[i:]))
	}
	v, err := vm.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

func seccompVerdict(v uint32) string {
	switch {
	case v == seccompAllow:
		return "allow"
	case v&0xffff0000 == 0x00050000:
		return fmt.Sprintf("errno %d (%v)", v&0xffff, syscall.Errno(v&0xffff))
	}
	return fmt.Sprintf("%#x", v)
}

func TestSeccompCalls(t *testing.T) {
	const (
		allow = seccompAllow
		none  = ^uint32(0) // the call does not exist on this architecture

		sigchld     = 17
		forkFlags   = 0x01200000 | sigchld // CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID, glibc's fork
		threadFlags = 0x003d0f00           // glibc's pthread_create
		vforkFlags  = 0x00004100 | sigchld // CLONE_VM|CLONE_VFORK, posix_spawn
		tcgets      = 0x5401
		fionbio     = 0x5421
		afPacket    = 17
		afNetlink   = 16
		afVsock     = 40
	)
	eperm := seccompErrno(syscall.EPERM)
	enosys := seccompErrno(syscall.ENOSYS)
	eafnosupport := seccompErrno(syscall.EAFNOSUPPORT)
	if eperm != 0x50001 || enosys != 0x50026 || eafnosupport != 0x50061 {
		t.Fatalf("errno returns %#x %#x %#x", eperm, enosys, eafnosupport)
	}

	type tc struct {
		name         string
		amd64, arm64 uint32 // the call's number on each
		args         [6]uint64
		want         uint32
	}
	cases := []tc{
		// Allowed.
		{"read", 0, 63, [6]uint64{0, 0x1000, 4096}, allow},
		{"write", 1, 64, [6]uint64{1, 0x1000, 10}, allow},
		{"openat", 257, 56, [6]uint64{0xffffff9c, 0x1000, 0}, allow},
		{"open (x86-64 only)", 2, none, [6]uint64{0x1000}, allow},
		{"execve", 59, 221, [6]uint64{0x1000, 0x2000, 0x3000}, allow},
		{"fork (x86-64 only)", 57, none, [6]uint64{}, allow},
		{"vfork (x86-64 only)", 58, none, [6]uint64{}, allow},
		{"clone as fork", 56, 220, [6]uint64{forkFlags}, allow},
		{"clone a thread", 56, 220, [6]uint64{threadFlags, 0x1000}, allow},
		{"clone as posix_spawn", 56, 220, [6]uint64{vforkFlags, 0x1000}, allow},
		{"socket AF_INET", 41, 198, [6]uint64{2, 1, 0}, allow},
		{"socket AF_INET6", 41, 198, [6]uint64{10, 2, 0}, allow},
		{"socket AF_UNIX", 41, 198, [6]uint64{1, 0x80001, 0}, allow},
		// The kernel reads the family as an int: AF_INET whatever the high half.
		{"socket AF_INET, high half set", 41, 198, [6]uint64{0xffffffff_00000002, 1}, allow},
		{"socketpair AF_UNIX", 53, 199, [6]uint64{1, 1, 0, 0x1000}, allow},
		{"ioctl TCGETS", 16, 29, [6]uint64{0, tcgets, 0x1000}, allow},
		{"ioctl FIONBIO", 16, 29, [6]uint64{3, fionbio, 0x1000}, allow},
		{"personality query", 135, 92, [6]uint64{0xffffffff}, allow},
		{"personality PER_LINUX", 135, 92, [6]uint64{0}, allow},
		{"wait4", 61, 260, [6]uint64{0xffffffffffffffff}, allow},
		{"arch_prctl (x86-64 only)", 158, none, [6]uint64{0x1002, 0x1000}, allow},
		{"fchmodat2", 452, 452, [6]uint64{3, 0x1000, 0o644, 0x100}, allow},
		{"rseq", 334, 293, [6]uint64{}, allow},
		{"ptrace", 101, 117, [6]uint64{16, 1}, allow},

		// Refused with the errno a caller falls back on.
		{"clone3", 435, 435, [6]uint64{0x1000, 88}, enosys},
		{"a number past the table", 1000, 1000, [6]uint64{}, enosys},
		{"the table's newest number + 1", 472, 472, [6]uint64{}, enosys},

		// Refused.
		{"bpf", 321, 280, [6]uint64{0, 0x1000, 72}, eperm},
		{"keyctl", 250, 219, [6]uint64{}, eperm},
		{"add_key", 248, 217, [6]uint64{}, eperm},
		{"mount", 165, 40, [6]uint64{0x1000, 0x2000, 0x3000}, eperm},
		{"umount2", 166, 39, [6]uint64{0x1000}, eperm},
		{"fsopen", 430, 430, [6]uint64{}, eperm},
		{"move_mount", 429, 429, [6]uint64{}, eperm},
		{"pivot_root", 155, 41, [6]uint64{}, eperm},
		{"perf_event_open", 298, 241, [6]uint64{}, eperm},
		{"userfaultfd", 323, 282, [6]uint64{}, eperm},
		{"io_uring_setup", 425, 425, [6]uint64{8, 0x1000}, eperm},
		{"unshare CLONE_NEWNET", 272, 97, [6]uint64{0x40000000}, eperm},
		{"unshare CLONE_FILES", 272, 97, [6]uint64{0x400}, eperm},
		{"unshare 0", 272, 97, [6]uint64{0}, eperm},
		{"setns", 308, 268, [6]uint64{3, 0}, eperm},
		{"init_module", 175, 105, [6]uint64{}, eperm},
		{"finit_module", 313, 273, [6]uint64{}, eperm},
		{"reboot", 169, 142, [6]uint64{}, eperm},
		{"kexec_load", 246, 104, [6]uint64{}, eperm},
		{"settimeofday", 164, 170, [6]uint64{}, eperm},
		{"clock_settime", 227, 112, [6]uint64{}, eperm},
		{"adjtimex", 159, 171, [6]uint64{0x1000}, eperm},
		{"swapon", 167, 224, [6]uint64{}, eperm},
		{"acct", 163, 89, [6]uint64{}, eperm},
		{"quotactl", 179, 60, [6]uint64{}, eperm},
		{"syslog", 103, 116, [6]uint64{3, 0x1000, 100}, eperm},
		{"vhangup", 153, 58, [6]uint64{}, eperm},
		{"name_to_handle_at", 303, 264, [6]uint64{}, eperm},
		{"open_by_handle_at", 304, 265, [6]uint64{}, eperm},
		{"lookup_dcookie", 212, 18, [6]uint64{}, eperm},
		{"iopl (x86-64 only)", 172, none, [6]uint64{3}, eperm},
		{"ioperm (x86-64 only)", 173, none, [6]uint64{0, 0x400, 1}, eperm},
		{"modify_ldt (x86-64 only)", 154, none, [6]uint64{1, 0x1000, 16}, eperm},
		{"chroot", 161, 51, [6]uint64{0x1000}, eperm},
		{"kcmp, never listed", 312, 272, [6]uint64{}, eperm},
		{"mbind, never listed", 237, 235, [6]uint64{}, eperm},
		{"listns, known but not listed", 470, 470, [6]uint64{}, eperm},
		{"a gap in x86-64's numbering", 400, 400, [6]uint64{}, eperm},
		{"socket AF_PACKET", 41, 198, [6]uint64{afPacket, 3, 0x300}, eafnosupport},
		{"socket AF_NETLINK", 41, 198, [6]uint64{afNetlink, 3, 0}, eafnosupport},
		{"socket AF_VSOCK", 41, 198, [6]uint64{afVsock, 1, 0}, eafnosupport},
		{"socketpair AF_NETLINK", 53, 199, [6]uint64{afNetlink, 3, 0, 0x1000}, eafnosupport},
		{"socketpair AF_INET", 53, 199, [6]uint64{2, 1, 0, 0x1000}, eafnosupport},
		{"clone CLONE_NEWUSER", 56, 220, [6]uint64{0x10000000 | sigchld}, eperm},
		{"clone a thread with CLONE_NEWNET", 56, 220, [6]uint64{threadFlags | 0x40000000}, eperm},
		{"clone, a flag in the high half", 56, 220, [6]uint64{1<<32 | forkFlags}, eperm},
		{"ioctl TIOCSTI", 16, 29, [6]uint64{0, 0x5412, 0x1000}, eperm},
		// The kernel reads the request as an unsigned int: TIOCSTI still.
		{"ioctl TIOCSTI, high half set", 16, 29, [6]uint64{0, 0xffffffff_00005412, 0x1000}, eperm},
		{"ioctl TIOCLINUX", 16, 29, [6]uint64{0, 0x541c, 0x1000}, eperm},
		{"personality ADDR_NO_RANDOMIZE", 135, 92, [6]uint64{0x0040000}, eperm},
		{"personality READ_IMPLIES_EXEC", 135, 92, [6]uint64{0x0400000}, eperm},
	}
	for _, f := range []struct {
		name string
		flag uint64
	}{
		{"CLONE_NEWNS", 0x00020000}, {"CLONE_NEWCGROUP", 0x02000000}, {"CLONE_NEWUTS", 0x04000000},
		{"CLONE_NEWIPC", 0x08000000}, {"CLONE_NEWUSER", 0x10000000}, {"CLONE_NEWPID", 0x20000000},
		{"CLONE_NEWNET", 0x40000000}, {"CLONE_NEWTIME", 0x00000080},
	} {
		cases = append(cases, tc{"clone as fork with " + f.name, 56, 220, [6]uint64{forkFlags | f.flag}, eperm})
	}

	for _, arch := range []struct {
		goarch string
		audit  uint32
		nr     func(tc) uint32
	}{
		{"amd64", auditX86_64, func(c tc) uint32 { return c.amd64 }},
		{"arm64", auditAArch64, func(c tc) uint32 { return c.arm64 }},
	} {
		t.Run(arch.goarch, func(t *testing.T) {
			vm := seccompVM(t, seccompProgramFor(arch.goarch))
			for _, c := range cases {
				nr := arch.nr(c)
				if nr == none {
					continue
				}
				if got := runSeccomp(t, vm, seccompCall{nr: nr, arch: arch.audit, args: c.args}); got != c.want {
					t.Errorf("%s (%d): %s, want %s", c.name, nr, seccompVerdict(got), seccompVerdict(c.want))
				}
			}
		})
	}

	// Other ABIs: refused however harmless the call.
	abis := []struct {
		name   string
		goarch string
		call   seccompCall
	}{
		{"i386 read (int 0x80)", "amd64", seccompCall{nr: 3, arch: auditI386}},
		{"i386 getpid", "amd64", seccompCall{nr: 20, arch: auditI386}},
		{"x32 read", "amd64", seccompCall{nr: x32SyscallBit | 0, arch: auditX86_64}},
		{"x32 execve", "amd64", seccompCall{nr: x32SyscallBit | 520, arch: auditX86_64}},
		{"x32 past the table", "amd64", seccompCall{nr: x32SyscallBit | 1000, arch: auditX86_64}},
		{"nr -1", "amd64", seccompCall{nr: 0xffffffff, arch: auditX86_64}},
		{"an arm64 call on x86-64", "amd64", seccompCall{nr: 63, arch: auditAArch64}},
		{"AArch32 read", "arm64", seccompCall{nr: 3, arch: auditARM}},
		{"an x86-64 call on arm64", "arm64", seccompCall{nr: 0, arch: auditX86_64}},
		{"arch 0", "arm64", seccompCall{nr: 63, arch: 0}},
	}
	for _, c := range abis {
		vm := seccompVM(t, seccompProgramFor(c.goarch))
		if got := runSeccomp(t, vm, c.call); got != eperm {
			t.Errorf("%s: %s: %s, want %s", c.goarch, c.name, seccompVerdict(got), seccompVerdict(eperm))
		}
	}
}

// TestSeccompEveryNumber checks the builder against the tables: over every
// number up to past the table's end, with all arguments zero, the program
// allows exactly the listed calls and refuses every other.
func TestSeccompEveryNumber(t *testing.T) {
	for goarch, a := range seccompArches {
		t.Run(goarch, func(t *testing.T) {
			vm := seccompVM(t, seccompProgramFor(goarch))
			byNr := map[uint32]string{}
			for name, nr := range a.nr {
				byNr[nr] = name
			}
			for nr := uint32(0); nr < a.newest+100; nr++ {
				name := byNr[nr]
				want := seccompErrno(syscall.EPERM)
				switch {
				case nr > a.newest:
					want = seccompErrno(syscall.ENOSYS)
				case name == "clone3":
					want = seccompErrno(syscall.ENOSYS)
				case name == "socket" || name == "socketpair":
					want = seccompErrno(syscall.EAFNOSUPPORT) // family 0, AF_UNSPEC
				case name != "":
					want = seccompAllow // ioctl 0, clone 0 and personality 0 included
				}
				if got := runSeccomp(t, vm, seccompCall{nr: nr, arch: a.audit}); got != want {
					t.Errorf("%d (%q): %s, want %s", nr, name, seccompVerdict(got), seccompVerdict(want))
				}
			}
		})
	}
}

// TestSeccompTables checks the tables against each other: every name of
// the policy is a call of some architecture, every call in a table is in
// the policy once, and no two calls share a number.
func TestSeccompTables(t *testing.T) {
	policy := map[string]int{}
	for _, name := range seccompAllowed {
		policy[name]++
	}
	for _, r := range seccompRules {
		policy[r.name]++
	}
	for name, n := range policy {
		if n > 1 {
			t.Errorf("%s is in the policy %d times", name, n)
		}
		found := false
		for _, a := range seccompArches {
			_, ok := a.nr[name]
			found = found || ok
		}
		if !found {
			t.Errorf("%s is in no architecture's table", name)
		}
	}
	for goarch, a := range seccompArches {
		seen := map[uint32]string{}
		for name, nr := range a.nr {
			if policy[name] == 0 {
				t.Errorf("%s: %s has a number but no rule", goarch, name)
			}
			if other, ok := seen[nr]; ok {
				t.Errorf("%s: %s and %s are both %d", goarch, name, other, nr)
			}
			seen[nr] = name
			if nr > a.newest {
				t.Errorf("%s: %s is %d, past the table's newest, %d", goarch, name, nr, a.newest)
			}
		}
	}
	// The calls the project refused as a denylist stay refused.
	for _, name := range []string{"add_key", "request_key", "keyctl", "bpf", "perf_event_open",
		"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "mount", "umount2",
		"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
		"unshare", "setns", "init_module", "finit_module", "delete_module", "adjtimex",
		"clock_adjtime", "settimeofday", "clock_settime", "reboot", "kexec_load", "kexec_file_load",
		"acct", "swapon", "swapoff", "quotactl", "iopl", "ioperm", "syslog", "vhangup",
		"pivot_root", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie"} {
		if policy[name] != 0 {
			t.Errorf("%s is in the policy", name)
		}
	}
}

func TestSeccompProgram(t *testing.T) {
	if p := seccompProgramFor("riscv64"); p != nil {
		t.Errorf("riscv64: %d bytes; want no filter where there is no table", len(p))
	}
	want := seccompProgramFor(runtime.GOARCH)
	if got := seccompProgram(); !slices.Equal(got, want) {
		t.Errorf("seccompProgram is not %s's program", runtime.GOARCH)
	}
	for goarch := range seccompArches {
		p := seccompProgramFor(goarch)
		t.Logf("%s: %d calls, %d instructions, %d bytes", goarch, len(seccompArches[goarch].nr), len(p)/8, len(p))
		// namespace.go writes the program into a pipe before bwrap reads
		// it: it must fit in the pipe's buffer (64 KiB by default).
		if len(p) > 64<<10 {
			t.Errorf("%s: %d bytes", goarch, len(p))
		}
	}
}
