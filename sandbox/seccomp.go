package sandbox

// The namespace backend's seccomp filter is an allowlist. seccompProgram
// builds it from the tables below into the classic-BPF program that
// bubblewrap's --seccomp installs just before it runs a step's command.
// In the order the program tests them:
//
//   - A call of another ABI fails with EPERM: 32-bit calls (int 0x80 on
//     x86-64, AArch32 on arm64) carry another seccomp_data.arch, and x32
//     calls carry x86-64's with bit 30 of the number set.
//   - A number above the newest the table knows fails with ENOSYS, as it
//     would on an older kernel, so that a caller written for a newer
//     kernel falls back to the older call (runc does the same). Refusing
//     with EPERM would break that fallback, and either way it is refused.
//   - seccompRules decide a few calls by an argument: ioctl, clone,
//     socket, socketpair, personality; clone3 fails with ENOSYS.
//   - The calls of seccompAllowed pass, whatever their arguments.
//   - Every other call fails with EPERM.
//
// Where the lists come from: seccompAllowed is Docker's default profile's
// allowlist (moby's profiles/seccomp/default.json: the calls it allows a
// container that was given no extra capability). A profile of that line
// is the one our docker backend runs steps under, so a build meets much
// the same kernel on both backends, and it is the best-tested list of
// what ordinary Linux programs need.
// Docker's calls that only 32-bit ABIs have (chown32, _llseek,
// socketcall, the *_time64 calls...) have no place here. Taken out of it:
// what this sandbox refused before it had an allowlist (adjtimex and
// clock_adjtime, io_uring, name_to_handle_at), and modify_ldt (16-bit
// segments, for Wine and DOS emulators; a past source of kernel bugs).
// Added to it: a few calls newer than that list, each said why. Not
// listed, so refused, as Docker refuses them without capabilities:
// keyrings, bpf,
// perf_event_open, userfaultfd, the mount family, unshare and setns,
// modules, setting clocks, reboot, kexec, acct, swap, quotactl,
// iopl/ioperm, syslog, vhangup, pivot_root, chroot, open_by_handle_at,
// lookup_dcookie, kcmp, pidfd_getfd, process_madvise, the NUMA policy
// calls.
//
// The numbers are the kernel's own (x86-64: arch/x86/entry/syscalls/
// syscall_64.tbl; arm64: include/uapi/asm-generic/unistd.h), as
// golang.org/x/sys/unix lists them, up to 471 (rseq_slice_yield). A table
// gives only the calls the policy names; a name missing from an
// architecture's table (arm64 has no open, fork, stat, poll...) is a call
// it does not have.
//
// The program is a plain list: two instructions a call. The kernel (5.11
// and later) runs it once per number when it is installed and remembers
// the calls it allows whatever their arguments, so only the
// argument-checked calls (and refused ones) run the program each time;
// those come first.

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"syscall"
)

// seccompAllowed are the calls allowed whatever their arguments: Docker's
// list less the refusals above, grouped by what they are for.
var seccompAllowed = []string{
	// Files, directories and descriptors.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range",
	"lseek", "dup", "dup2", "dup3", "fcntl", "flock", "fsync", "fdatasync", "sync",
	"syncfs", "sync_file_range", "fadvise64", "readahead", "fallocate", "truncate",
	"ftruncate", "sendfile", "splice", "tee", "vmsplice", "copy_file_range", "pipe",
	"pipe2", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
	"access", "faccessat", "faccessat2", "getdents", "getdents64", "getcwd", "chdir",
	"fchdir", "umask", "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2",
	"link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink",
	"readlinkat", "mknod", "mknodat", "chmod", "fchmod", "fchmodat", "chown", "fchown",
	"lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat",
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
	"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
	"fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch", "fanotify_mark",
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	// fchmodat2 (Linux 6.6): glibc 2.39 and later try it first for
	// lchmod and fchmodat(AT_SYMLINK_NOFOLLOW) and fall back only on
	// ENOSYS; it is fchmodat with a flags argument.
	"fchmodat2",

	// Memory.
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "remap_file_pages",
	"memfd_create", "memfd_secret", "membarrier", "pkey_alloc", "pkey_free",
	"pkey_mprotect",
	// map_shadow_stack (6.6): where shadow stacks are enforced (x86 CET,
	// arm64 GCS), glibc's makecontext gets a new context's shadow stack
	// from it; it maps memory that only shadow-stack instructions write.
	// mseal (6.10) only takes rights away from a mapping.
	"map_shadow_stack", "mseal",

	// Processes and threads. clone and clone3 are in seccompRules.
	"execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
	"kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "process_mrelease",
	"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
	"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "restart_syscall",
	"prctl", "arch_prctl", "get_thread_area", "set_thread_area", "seccomp",
	"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	// ptrace as under Docker, which allows it from Linux 4.8 on (where a
	// tracer can no longer change a call after seccomp has checked it): a
	// step sees only its own processes.
	"ptrace", "process_vm_readv", "process_vm_writev",
	"capget", "capset", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "setuid", "setgid", "setreuid", "setregid", "setresuid",
	"setresgid", "setgroups", "setfsuid", "setfsgid",
	"getrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
	"ioprio_get", "ioprio_set", "sched_yield", "sched_getaffinity", "sched_setaffinity",
	"sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam",
	"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "getcpu",
	"uname", "sysinfo", "times", "getrandom",

	// Signals.
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
	"signalfd", "signalfd4", "pause", "alarm",

	// Time (reading clocks and sleeping only: setting them is refused).
	"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday",
	"time", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
	"timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime",
	"timerfd_gettime",

	// Waiting for events.
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl_old", "epoll_wait_old",
	"eventfd", "eventfd2", "futex", "futex_waitv",
	// futex2's wake, wait and requeue (6.7): futex's code under new
	// numbers, allowed as futex is.
	"futex_wake", "futex_wait", "futex_requeue",

	// System V and POSIX IPC (in the step's own IPC namespace).
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
	"msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
	"mq_timedreceive", "mq_notify", "mq_getsetattr",

	// Sockets, once made (socket and socketpair are in seccompRules).
	"bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	"setsockopt", "getsockopt",
}

// Argument values the rules test.
const (
	afUnix  = 1  // AF_UNIX
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6

	tiocsti   = 0x5412 // TIOCSTI: push a byte into a terminal's input
	tioclinux = 0x541c // TIOCLINUX: the console's selection, among others

	// Every CLONE_NEW* flag: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
	// NEWPID, NEWNET (Docker's mask, 0x7e020000), and NEWTIME (0x80).
	// clone(2) reads 0x80 as part of the exit signal, where no valid
	// signal sets it, so refusing it costs nothing.
	cloneNewAny = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 |
		0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
)

// seccompRules are the calls decided by more than their number, in the
// order the program tests them.
var seccompRules = []struct {
	name string
	rule argRule
}{
	// Every ioctl but the two that reach beyond the step: TIOCSTI types
	// into a terminal (bubblewrap's --new-session already parts the step
	// from its caller's; this is the second lock), and TIOCLINUX drives
	// the Linux console. The kernel reads the request as an unsigned int,
	// so only its low half is compared.
	{"ioctl", argOneOf{arg: 1, values: []uint32{tiocsti, tioclinux},
		in: seccompErrno(syscall.EPERM), out: seccompAllow}},
	// A new process or thread, in the step's namespaces only.
	{"clone", argNoFlags{arg: 0, mask: cloneNewAny, out: seccompErrno(syscall.EPERM)}},
	// clone3 takes its flags in memory, where the filter cannot read
	// them. ENOSYS, as on a kernel before 5.3, makes glibc (pthread_create,
	// posix_spawn) fall back to clone, whose flags it can.
	{"clone3", retAlways{seccompErrno(syscall.ENOSYS)}},
	// Local and internet sockets only. Not AF_NETLINK: a build does not
	// list interfaces or routes, and glibc's getaddrinfo, which opens a
	// netlink socket to sort or filter its answers (the one use Python
	// makes of netlink unasked), goes on without it, assuming both IPv4
	// and IPv6. Not AF_PACKET, AF_VSOCK, AF_ALG and the rest: each is
	// more kernel to attack. Refused with EAFNOSUPPORT, the kernel's
	// answer for a family it does not have, which is what a caller that
	// probes for one expects. The kernel reads the family as an int: only
	// the low half is compared.
	{"socket", argOneOf{arg: 0, values: []uint32{afUnix, afInet, afInet6},
		in: seccompAllow, out: seccompErrno(syscall.EAFNOSUPPORT)}},
	// socketpair makes sockets too, and only AF_UNIX implements it: any
	// other family would reach that family's code for nothing.
	{"socketpair", argOneOf{arg: 0, values: []uint32{afUnix},
		in: seccompAllow, out: seccompErrno(syscall.EAFNOSUPPORT)}},
	// Docker's personality values: PER_LINUX, PER_LINUX32, UNAME26 and
	// their mix, and 0xffffffff, which only asks. Not ADDR_NO_RANDOMIZE
	// and the like, which weaken the next exec.
	{"personality", argOneOf{arg: 0, values: []uint32{0, 0x8, 0x20000, 0x20008, 0xffffffff},
		in: seccompAllow, out: seccompErrno(syscall.EPERM)}},
}

// A seccompArch is one architecture's facts.
type seccompArch struct {
	audit  uint32            // seccomp_data.arch of its native calls (AUDIT_ARCH_*)
	x32    bool              // x32 calls share audit and set bit 30 of the number
	newest uint32            // the highest number of the tables nr was taken from
	nr     map[string]uint32 // the numbers of the calls the policy names
}

// seccompArches are the architectures with a table, by GOARCH.
var seccompArches = map[string]*seccompArch{
	"amd64": {audit: 0xc000003e, x32: true, newest: 471, nr: map[string]uint32{
		"read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6, "poll": 7,
		"lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "rt_sigaction": 13,
		"rt_sigprocmask": 14, "rt_sigreturn": 15, "ioctl": 16, "pread64": 17, "pwrite64": 18,
		"readv": 19, "writev": 20, "access": 21, "pipe": 22, "select": 23, "sched_yield": 24,
		"mremap": 25, "msync": 26, "mincore": 27, "madvise": 28, "shmget": 29, "shmat": 30,
		"shmctl": 31, "dup": 32, "dup2": 33, "pause": 34, "nanosleep": 35, "getitimer": 36,
		"alarm": 37, "setitimer": 38, "getpid": 39, "sendfile": 40, "socket": 41, "connect": 42,
		"accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47, "shutdown": 48,
		"bind": 49, "listen": 50, "getsockname": 51, "getpeername": 52, "socketpair": 53,
		"setsockopt": 54, "getsockopt": 55, "clone": 56, "fork": 57, "vfork": 58, "execve": 59,
		"exit": 60, "wait4": 61, "kill": 62, "uname": 63, "semget": 64, "semop": 65, "semctl": 66,
		"shmdt": 67, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "fcntl": 72, "flock": 73,
		"fsync": 74, "fdatasync": 75, "truncate": 76, "ftruncate": 77, "getdents": 78, "getcwd": 79,
		"chdir": 80, "fchdir": 81, "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86,
		"unlink": 87, "symlink": 88, "readlink": 89, "chmod": 90, "fchmod": 91, "chown": 92,
		"fchown": 93, "lchown": 94, "umask": 95, "gettimeofday": 96, "getrlimit": 97, "getrusage": 98,
		"sysinfo": 99, "times": 100, "ptrace": 101, "getuid": 102, "getgid": 104, "setuid": 105,
		"setgid": 106, "geteuid": 107, "getegid": 108, "setpgid": 109, "getppid": 110, "getpgrp": 111,
		"setsid": 112, "setreuid": 113, "setregid": 114, "getgroups": 115, "setgroups": 116,
		"setresuid": 117, "getresuid": 118, "setresgid": 119, "getresgid": 120, "getpgid": 121,
		"setfsuid": 122, "setfsgid": 123, "getsid": 124, "capget": 125, "capset": 126,
		"rt_sigpending": 127, "rt_sigtimedwait": 128, "rt_sigqueueinfo": 129, "rt_sigsuspend": 130,
		"sigaltstack": 131, "utime": 132, "mknod": 133, "personality": 135, "statfs": 137,
		"fstatfs": 138, "getpriority": 140, "setpriority": 141, "sched_setparam": 142,
		"sched_getparam": 143, "sched_setscheduler": 144, "sched_getscheduler": 145,
		"sched_get_priority_max": 146, "sched_get_priority_min": 147, "sched_rr_get_interval": 148,
		"mlock": 149, "munlock": 150, "mlockall": 151, "munlockall": 152, "prctl": 157,
		"arch_prctl": 158, "setrlimit": 160, "sync": 162, "gettid": 186, "readahead": 187,
		"setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "getxattr": 191, "lgetxattr": 192,
		"fgetxattr": 193, "listxattr": 194, "llistxattr": 195, "flistxattr": 196, "removexattr": 197,
		"lremovexattr": 198, "fremovexattr": 199, "tkill": 200, "time": 201, "futex": 202,
		"sched_setaffinity": 203, "sched_getaffinity": 204, "set_thread_area": 205, "io_setup": 206,
		"io_destroy": 207, "io_getevents": 208, "io_submit": 209, "io_cancel": 210,
		"get_thread_area": 211, "epoll_create": 213, "epoll_ctl_old": 214, "epoll_wait_old": 215,
		"remap_file_pages": 216, "getdents64": 217, "set_tid_address": 218, "restart_syscall": 219,
		"semtimedop": 220, "fadvise64": 221, "timer_create": 222, "timer_settime": 223,
		"timer_gettime": 224, "timer_getoverrun": 225, "timer_delete": 226, "clock_gettime": 228,
		"clock_getres": 229, "clock_nanosleep": 230, "exit_group": 231, "epoll_wait": 232,
		"epoll_ctl": 233, "tgkill": 234, "utimes": 235, "mq_open": 240, "mq_unlink": 241,
		"mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
		"waitid": 247, "ioprio_set": 251, "ioprio_get": 252, "inotify_init": 253,
		"inotify_add_watch": 254, "inotify_rm_watch": 255, "openat": 257, "mkdirat": 258,
		"mknodat": 259, "fchownat": 260, "futimesat": 261, "newfstatat": 262, "unlinkat": 263,
		"renameat": 264, "linkat": 265, "symlinkat": 266, "readlinkat": 267, "fchmodat": 268,
		"faccessat": 269, "pselect6": 270, "ppoll": 271, "set_robust_list": 273,
		"get_robust_list": 274, "splice": 275, "tee": 276, "sync_file_range": 277, "vmsplice": 278,
		"utimensat": 280, "epoll_pwait": 281, "signalfd": 282, "timerfd_create": 283, "eventfd": 284,
		"fallocate": 285, "timerfd_settime": 286, "timerfd_gettime": 287, "accept4": 288,
		"signalfd4": 289, "eventfd2": 290, "epoll_create1": 291, "dup3": 292, "pipe2": 293,
		"inotify_init1": 294, "preadv": 295, "pwritev": 296, "rt_tgsigqueueinfo": 297,
		"recvmmsg": 299, "fanotify_mark": 301, "prlimit64": 302, "syncfs": 306, "sendmmsg": 307,
		"getcpu": 309, "process_vm_readv": 310, "process_vm_writev": 311, "sched_setattr": 314,
		"sched_getattr": 315, "renameat2": 316, "seccomp": 317, "getrandom": 318, "memfd_create": 319,
		"execveat": 322, "membarrier": 324, "mlock2": 325, "copy_file_range": 326, "preadv2": 327,
		"pwritev2": 328, "pkey_mprotect": 329, "pkey_alloc": 330, "pkey_free": 331, "statx": 332,
		"io_pgetevents": 333, "rseq": 334, "pidfd_send_signal": 424, "pidfd_open": 434, "clone3": 435,
		"close_range": 436, "openat2": 437, "faccessat2": 439, "epoll_pwait2": 441,
		"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446,
		"memfd_secret": 447, "process_mrelease": 448, "futex_waitv": 449, "fchmodat2": 452,
		"map_shadow_stack": 453, "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456,
		"mseal": 462,
	}},
	"arm64": {audit: 0xc00000b7, newest: 471, nr: map[string]uint32{
		"io_setup": 0, "io_destroy": 1, "io_submit": 2, "io_cancel": 3, "io_getevents": 4,
		"setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "getxattr": 8, "lgetxattr": 9, "fgetxattr": 10,
		"listxattr": 11, "llistxattr": 12, "flistxattr": 13, "removexattr": 14, "lremovexattr": 15,
		"fremovexattr": 16, "getcwd": 17, "eventfd2": 19, "epoll_create1": 20, "epoll_ctl": 21,
		"epoll_pwait": 22, "dup": 23, "dup3": 24, "fcntl": 25, "inotify_init1": 26,
		"inotify_add_watch": 27, "inotify_rm_watch": 28, "ioctl": 29, "ioprio_set": 30,
		"ioprio_get": 31, "flock": 32, "mknodat": 33, "mkdirat": 34, "unlinkat": 35, "symlinkat": 36,
		"linkat": 37, "renameat": 38, "statfs": 43, "fstatfs": 44, "truncate": 45, "ftruncate": 46,
		"fallocate": 47, "faccessat": 48, "chdir": 49, "fchdir": 50, "fchmod": 52, "fchmodat": 53,
		"fchownat": 54, "fchown": 55, "openat": 56, "close": 57, "pipe2": 59, "getdents64": 61,
		"lseek": 62, "read": 63, "write": 64, "readv": 65, "writev": 66, "pread64": 67,
		"pwrite64": 68, "preadv": 69, "pwritev": 70, "sendfile": 71, "pselect6": 72, "ppoll": 73,
		"signalfd4": 74, "vmsplice": 75, "splice": 76, "tee": 77, "readlinkat": 78, "newfstatat": 79,
		"fstat": 80, "sync": 81, "fsync": 82, "fdatasync": 83, "sync_file_range": 84,
		"timerfd_create": 85, "timerfd_settime": 86, "timerfd_gettime": 87, "utimensat": 88,
		"capget": 90, "capset": 91, "personality": 92, "exit": 93, "exit_group": 94, "waitid": 95,
		"set_tid_address": 96, "futex": 98, "set_robust_list": 99, "get_robust_list": 100,
		"nanosleep": 101, "getitimer": 102, "setitimer": 103, "timer_create": 107,
		"timer_gettime": 108, "timer_getoverrun": 109, "timer_settime": 110, "timer_delete": 111,
		"clock_gettime": 113, "clock_getres": 114, "clock_nanosleep": 115, "ptrace": 117,
		"sched_setparam": 118, "sched_setscheduler": 119, "sched_getscheduler": 120,
		"sched_getparam": 121, "sched_setaffinity": 122, "sched_getaffinity": 123, "sched_yield": 124,
		"sched_get_priority_max": 125, "sched_get_priority_min": 126, "sched_rr_get_interval": 127,
		"restart_syscall": 128, "kill": 129, "tkill": 130, "tgkill": 131, "sigaltstack": 132,
		"rt_sigsuspend": 133, "rt_sigaction": 134, "rt_sigprocmask": 135, "rt_sigpending": 136,
		"rt_sigtimedwait": 137, "rt_sigqueueinfo": 138, "rt_sigreturn": 139, "setpriority": 140,
		"getpriority": 141, "setregid": 143, "setgid": 144, "setreuid": 145, "setuid": 146,
		"setresuid": 147, "getresuid": 148, "setresgid": 149, "getresgid": 150, "setfsuid": 151,
		"setfsgid": 152, "times": 153, "setpgid": 154, "getpgid": 155, "getsid": 156, "setsid": 157,
		"getgroups": 158, "setgroups": 159, "uname": 160, "getrlimit": 163, "setrlimit": 164,
		"getrusage": 165, "umask": 166, "prctl": 167, "getcpu": 168, "gettimeofday": 169,
		"getpid": 172, "getppid": 173, "getuid": 174, "geteuid": 175, "getgid": 176, "getegid": 177,
		"gettid": 178, "sysinfo": 179, "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182,
		"mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185, "msgget": 186, "msgctl": 187,
		"msgrcv": 188, "msgsnd": 189, "semget": 190, "semctl": 191, "semtimedop": 192, "semop": 193,
		"shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197, "socket": 198, "socketpair": 199,
		"bind": 200, "listen": 201, "accept": 202, "connect": 203, "getsockname": 204,
		"getpeername": 205, "sendto": 206, "recvfrom": 207, "setsockopt": 208, "getsockopt": 209,
		"shutdown": 210, "sendmsg": 211, "recvmsg": 212, "readahead": 213, "brk": 214, "munmap": 215,
		"mremap": 216, "clone": 220, "execve": 221, "mmap": 222, "fadvise64": 223, "mprotect": 226,
		"msync": 227, "mlock": 228, "munlock": 229, "mlockall": 230, "munlockall": 231,
		"mincore": 232, "madvise": 233, "remap_file_pages": 234, "rt_tgsigqueueinfo": 240,
		"accept4": 242, "recvmmsg": 243, "wait4": 260, "prlimit64": 261, "fanotify_mark": 263,
		"syncfs": 267, "sendmmsg": 269, "process_vm_readv": 270, "process_vm_writev": 271,
		"sched_setattr": 274, "sched_getattr": 275, "renameat2": 276, "seccomp": 277,
		"getrandom": 278, "memfd_create": 279, "execveat": 281, "membarrier": 283, "mlock2": 284,
		"copy_file_range": 285, "preadv2": 286, "pwritev2": 287, "pkey_mprotect": 288,
		"pkey_alloc": 289, "pkey_free": 290, "statx": 291, "io_pgetevents": 292, "rseq": 293,
		"pidfd_send_signal": 424, "pidfd_open": 434, "clone3": 435, "close_range": 436,
		"openat2": 437, "faccessat2": 439, "epoll_pwait2": 441, "landlock_create_ruleset": 444,
		"landlock_add_rule": 445, "landlock_restrict_self": 446, "memfd_secret": 447,
		"process_mrelease": 448, "futex_waitv": 449, "fchmodat2": 452, "map_shadow_stack": 453,
		"futex_wake": 454, "futex_wait": 455, "futex_requeue": 456, "mseal": 462,
	}},
}

// seccompProgram returns the filter for this machine as bubblewrap's
// --seccomp reads it (an array of struct sock_filter), or nil where
// there is no table. The slice is shared: callers must not change it.
func seccompProgram() []byte { return seccompBuilt() }

var seccompBuilt = sync.OnceValue(func() []byte { return seccompProgramFor(runtime.GOARCH) })

// seccompProgramFor builds the filter for goarch, or returns nil.
func seccompProgramFor(goarch string) []byte {
	a := seccompArches[goarch]
	if a == nil {
		return nil
	}
	var p bpfProgram
	p.load(seccompArchOff)
	p.jump(bpfJeq, a.audit, 1, 0)
	p.ret(seccompErrno(syscall.EPERM))
	p.load(seccompNrOff)
	if a.x32 {
		p.jump(bpfJge, x32SyscallBit, 0, 1)
		p.ret(seccompErrno(syscall.EPERM))
	}
	p.jump(bpfJgt, a.newest, 0, 1)
	p.ret(seccompErrno(syscall.ENOSYS))
	rule := func(name string, r argRule) {
		nr, ok := a.nr[name]
		if !ok {
			return // a call this architecture does not have
		}
		var block bpfProgram
		r.emit(&block)
		p.jump(bpfJeq, nr, 0, len(block))
		p = append(p, block...)
	}
	for _, r := range seccompRules {
		rule(r.name, r.rule)
	}
	for _, name := range seccompAllowed {
		rule(name, retAlways{seccompAllow})
	}
	p.ret(seccompErrno(syscall.EPERM))
	return p.encode()
}

// The filter's returns.
const seccompAllow = 0x7fff0000 // SECCOMP_RET_ALLOW

// seccompErrno is the return that fails a call with e
// (SECCOMP_RET_ERRNO). The errno values are asm-generic's, the same on
// both architectures.
func seccompErrno(e syscall.Errno) uint32 { return 0x00050000 | uint32(e)&0xffff }

// An argRule is what the program does once a call's number matched: code
// whose every path ends in a return.
type argRule interface{ emit(p *bpfProgram) }

// retAlways returns v whatever the arguments.
type retAlways struct{ v uint32 }

func (r retAlways) emit(p *bpfProgram) { p.ret(r.v) }

// argOneOf returns in when the low half of argument arg is one of values,
// out otherwise.
type argOneOf struct {
	arg     int
	values  []uint32
	in, out uint32
}

func (r argOneOf) emit(p *bpfProgram) {
	p.load(seccompArgOff(r.arg))
	for i, v := range r.values {
		p.jump(bpfJeq, v, len(r.values)-i, 0) // to "ret in"
	}
	p.ret(r.out)
	p.ret(r.in)
}

// argNoFlags allows a call when the low half of argument arg has none of
// mask's bits and its high half is zero, and returns out otherwise. The
// kernel reads only clone's low half today and glibc passes zero above
// it; refusing the rest keeps a flag the kernel may one day read there
// from passing unseen.
type argNoFlags struct {
	arg  int
	mask uint32
	out  uint32
}

func (r argNoFlags) emit(p *bpfProgram) {
	p.load(seccompArgOff(r.arg) + 4)
	p.jump(bpfJeq, 0, 0, 3) // high half not zero: to "ret out"
	p.load(seccompArgOff(r.arg))
	p.jump(bpfJset, r.mask, 1, 0) // a flag set: to "ret out"
	p.ret(seccompAllow)
	p.ret(r.out)
}

// struct seccomp_data, as the filter reads it: 32-bit loads in the
// machine's byte order, little-endian on both architectures.
const (
	seccompNrOff   = 0 // int nr
	seccompArchOff = 4 // __u32 arch
	// __u64 instruction_pointer at 8, then __u64 args[6] at 16.

	x32SyscallBit = 0x40000000 // __X32_SYSCALL_BIT
)

// seccompArgOff is the offset of the low half of args[i].
func seccompArgOff(i int) uint32 { return 16 + 8*uint32(i) }

// Classic BPF opcodes the builder emits.
const (
	bpfLdAbsW = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeq    = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJge    = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfJgt    = 0x25 // BPF_JMP | BPF_JGT | BPF_K
	bpfJset   = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K
)

// sockFilter is struct sock_filter.
type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type bpfProgram []sockFilter

func (p *bpfProgram) load(off uint32) { *p = append(*p, sockFilter{code: bpfLdAbsW, k: off}) }
func (p *bpfProgram) ret(v uint32)    { *p = append(*p, sockFilter{code: bpfRetK, k: v}) }

// jump appends a conditional jump; jt and jf count the instructions
// skipped. Classic BPF holds them in a byte: a rule's block is a few
// instructions, so a longer one is a bug in the builder.
func (p *bpfProgram) jump(op uint16, k uint32, jt, jf int) {
	if jt > 255 || jf > 255 {
		panic(fmt.Sprintf("seccomp: jump of %d/%d instructions", jt, jf))
	}
	*p = append(*p, sockFilter{code: op, jt: uint8(jt), jf: uint8(jf), k: k})
}

// encode lays the program out as the kernel reads it (little-endian, as
// both architectures are).
func (p bpfProgram) encode() []byte {
	b := make([]byte, 0, 8*len(p))
	for _, in := range p {
		b = binary.LittleEndian.AppendUint16(b, in.code)
		b = append(b, in.jt, in.jf)
		b = binary.LittleEndian.AppendUint32(b, in.k)
	}
	return b
}
