package sandbox

// A seccomp filter for the namespace backend, in the spirit of Docker's
// default profile: the system calls a build never needs and that widen the
// kernel's attack surface (kernel keyrings, BPF, perf, userfaultfd,
// io_uring, mounts and namespaces, modules, clocks, reboot) fail with
// EPERM; every other call is allowed (ptrace too, as under Docker's
// profile: a step sees only its own processes). Calls of another ABI (32-bit int 0x80,
// x32) are refused outright, so that the filter cannot be sidestepped. The
// table is x86-64's; on other architectures no filter is installed (see
// the README's known limits).

import (
	"encoding/binary"
	"runtime"
	"syscall"
)

// Denied system calls, x86-64 numbers.
var seccompDenied = []uint32{
	103,      // syslog
	153,      // vhangup
	155,      // pivot_root
	159, 305, // adjtimex, clock_adjtime
	163,      // acct
	164, 227, // settimeofday, clock_settime
	165, 166, // mount, umount2
	167, 168, // swapon, swapoff
	169,      // reboot
	172, 173, // iopl, ioperm
	175, 176, 313, // init_module, delete_module, finit_module
	179,      // quotactl
	212,      // lookup_dcookie
	246, 320, // kexec_load, kexec_file_load
	248, 249, 250, // add_key, request_key, keyctl
	272, 308, // unshare, setns
	298,      // perf_event_open
	303, 304, // name_to_handle_at, open_by_handle_at
	321,           // bpf
	323,           // userfaultfd
	425, 426, 427, // io_uring_setup, io_uring_enter, io_uring_register
	428, 429, 430, 431, 432, 433, 442, // open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr
}

const (
	bpfLdAbs   = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeq     = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJge     = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfRet     = 0x06 // BPF_RET | BPF_K
	retAllow   = 0x7fff0000
	retErrno   = 0x00050000
	archX86_64 = 0xc000003e
	x32Bit     = 0x40000000
)

// seccompProgram returns the filter as bubblewrap's --seccomp reads it
// (an array of struct sock_filter), or nil where there is no table.
func seccompProgram() []byte {
	if runtime.GOARCH != "amd64" {
		return nil
	}
	type insn struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	deny := uint32(retErrno | uint32(syscall.EPERM))
	prog := []insn{
		{bpfLdAbs, 0, 0, 4}, // seccomp_data.arch
		{bpfJeq, 1, 0, archX86_64},
		{bpfRet, 0, 0, deny},
		{bpfLdAbs, 0, 0, 0}, // seccomp_data.nr
		{bpfJge, 0, 1, x32Bit},
		{bpfRet, 0, 0, deny},
	}
	for _, nr := range seccompDenied {
		prog = append(prog, insn{bpfJeq, 0, 1, nr}, insn{bpfRet, 0, 0, deny})
	}
	prog = append(prog, insn{bpfRet, 0, 0, retAllow})
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = binary.LittleEndian.AppendUint16(b, in.code)
		b = append(b, in.jt, in.jf)
		b = binary.LittleEndian.AppendUint32(b, in.k)
	}
	return b
}
