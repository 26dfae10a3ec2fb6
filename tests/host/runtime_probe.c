#define _GNU_SOURCE
/* Static probe run inside a minict container by runtime_security.sh: each check tries one
 * forbidden operation and prints "<name> denied <errno text>" or "<name> ALLOWED". */
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void report(const char *name, int r)
{
	if (r < 0)
		printf("%s denied %s\n", name, strerror(errno));
	else
		printf("%s ALLOWED\n", name);
}

int main(int argc, char **argv)
{
	pid_t host_pid = argc > 1 ? atoi(argv[1]) : 1;
	report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
	report("init_module", syscall(SYS_init_module, "x", 1, ""));
	report("finit_module", syscall(SYS_finit_module, 0, "", 0));
	int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
	report("write_proc_sys", fd < 0 ? -1 : (int)write(fd, "x", 1));
	fd = open("/proc/kcore", O_RDONLY);
	char b[16];
	ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof(b));
	if (n == 0)
		errno = ENODATA; /* masked: reads as empty */
	report("read_kcore", n > 0 ? 0 : -1);
	report("signal_host_pid", kill(host_pid, 0));
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d", host_pid);
	struct stat st;
	report("see_host_pid", stat(p, &st));
	report("mknod", mknod("/tmp/null2", S_IFCHR | 0666, makedev(1, 3)));
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_max += 1;
	report("raise_hard_rlimit", setrlimit(RLIMIT_NOFILE, &rl));
	report("keyctl", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "probe"));
	report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
	report("unshare_user", unshare(CLONE_NEWUSER));
	report("unshare_mount", unshare(CLONE_NEWNS));
	report("setns", syscall(SYS_setns, 0, 0));
	report("ptrace_host", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, host_pid, 0, 0));
	report("reboot", syscall(SYS_reboot, 0xfee1dead, 672274793, 0x4321FEDC, 0));
	report("chroot_escape_open_by_handle", syscall(SYS_open_by_handle_at, 0, NULL, 0));
	report("swapon", syscall(SYS_swapon, "/dev/null", 0));
	report("settimeofday",
	       syscall(SYS_settimeofday, NULL, NULL) < 0 && errno == EFAULT ? 0 : -1);
	/* fds: nothing but stdio may be inherited from the runtime */
	int extra = 0;
	for (int i = 3; i < 1024; i++)
		if (fcntl(i, F_GETFD) >= 0)
			extra++;
	printf("inherited_fds %d\n", extra);
	return 0;
}
