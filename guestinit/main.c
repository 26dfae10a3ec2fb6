/* guestinit: PID 1 of a minivm guest (and, unchanged, of the same initramfs under QEMU).
 *
 *   1. mount /proc, /sys, /dev (devtmpfs), /tmp; attach the console to fds 0-2
 *   2. load the kernel modules listed in /lib/modules/load.list (one absolute path a line,
 *      dependency order) with finit_module(2)
 *   3. run the command minivm put in /minivm/argv with the environment in /minivm/env (an
 *      archive appended to the initramfs; each entry NUL-terminated), or else the command
 *      given as init's arguments (what follows `--` on the kernel command line: older
 *      minivm, or QEMU), or /bin/sh when there is none, as the foreground process group of
 *      the console
 *   4. report milestones (init, ready, exit status) on the debug port (debug_port.h)
 *   5. wait for the console to transmit, sync and power off with reboot(2)
 *
 * It never returns: PID 1 exiting panics the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "debug_port.h"

#define LOAD_LIST "/lib/modules/load.list"
#define ARGV_FILE "/minivm/argv" /* vmm/boot/cpio.h */
#define ENV_FILE  "/minivm/env"

static int have_port;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(2, "guestinit: ", 11);
	w = write(2, buf, (size_t)n);
	(void)w;
}

static sigjmp_buf port_fault;
static void on_port_fault(int sig)
{
	(void)sig;
	siglongjmp(port_fault, 1);
}

/* Write a milestone to the debug port. ioperm() can succeed and the write still fault (seen
 * with QEMU -M pc): then the port is given up for good and the guest carries on. */
static void milestone(unsigned code, unsigned payload)
{
	if (!have_port)
		return;
	struct sigaction sa = {.sa_handler = on_port_fault}, old_segv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	if (sigsetjmp(port_fault, 1) == 0)
		outl(MINI_DBG_VALUE(code, payload), MINI_DEBUG_PORT);
	else
		have_port = 0;
	sigaction(SIGSEGV, &old_segv, NULL);
}

static void mount_one(const char *src, const char *dir, const char *type, unsigned long flags,
		      const char *data)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		say("mkdir %s: %s", dir, strerror(errno));
	if (mount(src, dir, type, flags, data) < 0 && errno != EBUSY)
		say("mount %s on %s: %s", type, dir, strerror(errno));
}

/* The kernel gives init /dev/console as fds 0-2 only if the initramfs has that node. */
static void attach_console(void)
{
	if (fcntl(0, F_GETFD) >= 0)
		return;
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void load_modules(void)
{
	FILE *f = fopen(LOAD_LIST, "re");
	if (!f) {
		if (errno != ENOENT)
			say("open %s: %s", LOAD_LIST, strerror(errno));
		return;
	}
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("module %s: %s (skipped)", p, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("finit_module %s: %s", p, strerror(errno));
		close(fd);
	}
	fclose(f);
}

/* A whole file, NUL-terminated, or NULL when it is absent (or unreadable: said). */
static char *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			say("open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	if (fstat(fd, &st) < 0 || st.st_size < 0 || !(buf = malloc((size_t)st.st_size + 1))) {
		say("read %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* NUL-terminated entries (the last one's NUL may be missing) into a NULL-terminated vector
 * pointing into buf; NULL when out of memory. */
static char **split_nul(char *buf, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	if (len && buf[len - 1] != '\0')
		n++;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		v[k++] = buf + i;
	return v;
}

/* minivm's command and environment, when it appended them to the initramfs: the command
 * replaces init's own arguments, each NAME=VALUE goes into the environment (after the
 * defaults, so it overrides them). Returns the command, or fallback. */
static char **command_from_archive(char **fallback)
{
	size_t len = 0;
	char *env = read_whole(ENV_FILE, &len);
	char **ev = env ? split_nul(env, len) : NULL;
	for (size_t i = 0; ev && ev[i]; i++)
		if (strchr(ev[i], '=') && putenv(ev[i]) != 0)
			say("putenv: %s", strerror(errno));
	free(ev); /* the strings stay: putenv keeps them */
	char *args = read_whole(ARGV_FILE, &len);
	if (!args)
		return fallback;
	char **av = split_nul(args, len);
	static char *shell[] = {"/bin/sh", NULL};
	return av && av[0] ? av : shell;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Let the console transmit what the command wrote (the UART sends it from interrupts, after
 * write() returned) before powering off, bounded in case the console is stuck. */
static void drain_console(void)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	alarm(5);
	tcdrain(1);
	alarm(0);
}

/* The console is PID 1's controlling tty and the command runs as its foreground process
 * group, not as a session leader of its own: when a session leader exits, the kernel hangs up
 * its tty and drops what the UART has not sent yet, which cut the command's last line short. */
static void own_console(void)
{
	signal(SIGTTOU,
	       SIG_IGN); /* PID 1 may take the tty back and tcdrain() from the background */
	signal(SIGTTIN, SIG_IGN);
	if (getsid(0) != getpid())
		setsid();
	ioctl(0, TIOCSCTTY, 0); /* may fail: then no job control, nothing else changes */
}

/* Run argv in its own process group, in the console's foreground; return its status as a
 * shell would. */
static int run_command(char **argv)
{
	pid_t pid = fork();
	if (pid < 0) {
		say("fork: %s", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		setpgid(0, 0);
		tcsetpgrp(0, getpid()); /* both sides do it, as shells do, so neither races */
		signal(SIGTTOU, SIG_DFL);
		signal(SIGTTIN, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		say("exec %s: %s", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	setpgid(pid, pid);
	tcsetpgrp(0, pid);
	for (;;) {
		int status;
		pid_t w = waitpid(-1, &status, 0); /* PID 1 reaps orphans too */
		if (w < 0) {
			if (errno == EINTR)
				continue;
			say("waitpid: %s", strerror(errno));
			return 127;
		}
		if (w != pid)
			continue;
		tcsetpgrp(0, getpgrp());
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		if (WIFSIGNALED(status))
			return 128 + WTERMSIG(status);
	}
}

int main(int argc, char **argv)
{
	have_port = ioperm(MINI_DEBUG_PORT, 4, 1) == 0;
	int port_errno = errno;
	milestone(MINI_DBG_INIT, 0);

	mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	attach_console();
	own_console();
	mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	if (!have_port)
		say("debug port 0x%x unavailable (%s): no milestones", MINI_DEBUG_PORT,
		    port_errno ? strerror(port_errno) : "the write faulted");

	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/", 0);
	setenv("TERM", "linux", 0);
	load_modules();

	static char *shell[] = {"/bin/sh", NULL};
	char **cmd = command_from_archive(argc > 1 ? argv + 1 : shell);
	milestone(MINI_DBG_READY, 0);
	int status = run_command(cmd);
	milestone(MINI_DBG_EXIT, (unsigned)status);
	drain_console();
	sync();
	reboot(RB_POWER_OFF);
	say("reboot: %s", strerror(errno));
	for (;;)
		pause();
}
