/* The built-in default seccomp profile, modelled on the one Docker and Podman ship: deny by
 * default with EPERM, allow the ordinary syscalls, allow namespace/mount/module/time/trace
 * syscalls only when the process keeps the capability that guards them, refuse clone() with
 * namespace flags and make clone3() fail with ENOSYS (libc then falls back to clone). */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "jsonh.h"
#include "security.h"

/* Plain allow list: everything a normal program needs. */
static const char *const allowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_adjtime",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "modify_ldt",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "ptrace",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "splice",
    "stat",
    "statfs",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
};

/* Syscalls allowed only while the process keeps the capability. */
static const struct {
	int cap;
	const char *names[24];
} by_cap[] = {
    {CAP_SYS_ADMIN, {"bpf",	      "clone",	       "clone3",      "fanotify_init",	 "fsconfig",
		     "fsmount",	      "fsopen",	       "fspick",      "lookup_dcookie",	 "mount",
		     "mount_setattr", "move_mount",    "open_tree",   "perf_event_open", "quotactl",
		     "quotactl_fd",   "setdomainname", "sethostname", "setns",		 "syslog",
		     "umount2",	      "unshare",       NULL}},
    {CAP_SYS_BOOT, {"reboot", NULL}},
    {CAP_SYS_CHROOT, {"chroot", NULL}},
    {CAP_SYS_MODULE, {"delete_module", "init_module", "finit_module", NULL}},
    {CAP_SYS_PACCT, {"acct", NULL}},
    {CAP_SYS_PTRACE,
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", NULL}},
    {CAP_SYS_RAWIO, {"iopl", "ioperm", NULL}},
    {CAP_SYS_TIME, {"settimeofday", "clock_settime", NULL}},
    {CAP_SYS_TTY_CONFIG, {"vhangup", NULL}},
    {CAP_SYS_NICE, {"get_mempolicy", "mbind", "set_mempolicy", NULL}},
    {CAP_SYSLOG, {"syslog", NULL}},
};

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

static bool has_cap(const struct ct_process *p, int cap)
{
	if (!p->has_caps || p->caps.count[CT_CAP_BOUNDING] < 0)
		return false;
	for (int i = 0; i < p->caps.count[CT_CAP_BOUNDING]; i++)
		if (p->caps.set[CT_CAP_BOUNDING][i] == cap)
			return true;
	return false;
}

static int add_rule(struct ct_seccomp *sc, const char *name, uint32_t action,
		    const struct ct_seccomp_arg *arg, mc_err *err)
{
	if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
		return 0; /* unknown to this libseccomp: the default action covers it */
	struct ct_seccomp_rule *n = realloc(sc->rules, (sc->nrules + 1) * sizeof(*n));
	if (!n)
		return mc_errorf(err, ENOMEM, "seccomp");
	sc->rules = n;
	struct ct_seccomp_rule *r = &sc->rules[sc->nrules];
	memset(r, 0, sizeof(*r));
	r->names = calloc(2, sizeof(char *));
	if (!r->names || !(r->names[0] = strdup(name)))
		return mc_errorf(err, ENOMEM, "seccomp");
	r->nnames = 1;
	r->action = action;
	if (arg) {
		r->args = malloc(sizeof(*arg));
		if (!r->args)
			return mc_errorf(err, ENOMEM, "seccomp");
		r->args[0] = *arg;
		r->nargs = 1;
	}
	sc->nrules++;
	return 0;
}

int ct_seccomp_default(const struct ct_process *p, struct ct_seccomp *sc, mc_err *err)
{
	memset(sc, 0, sizeof(*sc));
	sc->default_action = SCMP_ACT_ERRNO(EPERM);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (add_rule(sc, allowed[i], SCMP_ACT_ALLOW, NULL, err) < 0)
			return -1;
	bool sys_admin = has_cap(p, CAP_SYS_ADMIN);
	for (size_t i = 0; i < sizeof(by_cap) / sizeof(by_cap[0]); i++) {
		if (!has_cap(p, by_cap[i].cap))
			continue;
		for (int k = 0; by_cap[i].names[k]; k++)
			if (add_rule(sc, by_cap[i].names[k], SCMP_ACT_ALLOW, NULL, err) < 0)
				return -1;
	}
	if (!sys_admin) {
		/* clone without namespace flags (arg 0 on x86-64), clone3 -> ENOSYS */
		struct ct_seccomp_arg a = {
		    .index = 0, .value = NS_FLAGS, .value_two = 0, .op = SCMP_CMP_MASKED_EQ};
		if (add_rule(sc, "clone", SCMP_ACT_ALLOW, &a, err) < 0 ||
		    add_rule(sc, "clone3", SCMP_ACT_ERRNO(ENOSYS), NULL, err) < 0)
			return -1;
	}
	/* personality: only the harmless personas, as in Docker's profile */
	static const uint64_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
	for (size_t i = 0; i < sizeof(personas) / sizeof(personas[0]); i++) {
		struct ct_seccomp_arg a = {.index = 0, .value = personas[i], .op = SCMP_CMP_EQ};
		if (add_rule(sc, "personality", SCMP_ACT_ALLOW, &a, err) < 0)
			return -1;
	}
	return 0;
}
