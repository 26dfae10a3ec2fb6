/* guestinit: PID 1 of a minivm guest (and, unchanged, of the same initramfs under QEMU).
 *
 *   1. mount /proc, /sys, /dev (devtmpfs), /tmp; attach the console to fds 0-2
 *   2. load the kernel modules listed in /lib/modules/load.list (one absolute path a line,
 *      dependency order) with finit_module(2); compressed ones (.ko.xz, .ko.zst, .ko.gz) with
 *      MODULE_INIT_COMPRESSED_FILE, or decompressed by busybox when the kernel can't
 *   2b. with minivm.root=DEV[,ro][,fstype=T][,wait=S] on the kernel command line: wait for
 *      DEV, mount it, move /dev /proc /sys /tmp into it, empty the initramfs and make DEV the
 *      root (switch_root), so the command runs from the disk (docs/images.md)
 *   3. run the command minivm put in /minivm/argv with the environment in /minivm/env (an
 *      archive appended to the initramfs; each entry NUL-terminated), or else the command
 *      given as init's arguments (what follows `--` on the kernel command line: older
 *      minivm, or QEMU), or /bin/sh when there is none, as the foreground process group of
 *      the console
 *   3b. with minivm's virtio-console (a virtio device of type 3): wait for its ports, found
 *      by name in /sys/class/virtio-ports/ * /name, and give the command "minivm.stdin",
 *      "minivm.stdout" and "minivm.stderr" as fds 0, 1 and 2 (no terminal, a session of its
 *      own), or with "minivm.tty" (minivm run -t) the terminal /dev/hvc0 (docs/virtio.md,
 *      "virtio-console and the guest command's stdio")
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
#include <dirent.h>
#include <linux/module.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include "debug_port.h"

#define LOAD_LIST "/lib/modules/load.list"
#define KVER_FILE "/lib/modules/kver" /* the kernel the modules are for (scripts/images.sh) */
#define NEW_ROOT  "/newroot"
#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif
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

/* The decompressor for a compressed module's name (busybox applets; zstd only if the image
 * has one), or NULL for a plain .ko. */
static const char *decompressor(const char *path)
{
	size_t n = strlen(path);
	static const struct {
		const char *ext, *tool;
	} tab[] = {{".ko.xz", "unxz"}, {".ko.gz", "gunzip"}, {".ko.zst", "unzstd"}};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t e = strlen(tab[i].ext);
		if (n > e && strcmp(path + n - e, tab[i].ext) == 0)
			return tab[i].tool;
	}
	return NULL;
}

/* Decompress path into a memfd with TOOL -c (busybox's unxz/gunzip, or unzstd): the module
 * for a kernel that refuses MODULE_INIT_COMPRESSED_FILE (built without
 * CONFIG_MODULE_DECOMPRESS or for another algorithm). Returns the fd or -1. */
static int decompress_module(const char *path, const char *tool)
{
	int mfd = (int)syscall(SYS_memfd_create, "module", MFD_CLOEXEC);
	if (mfd < 0) {
		say("memfd_create: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int in = open(path, O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(mfd, 1) < 0)
			_exit(126);
		execlp(tool, tool, "-c", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		say("module %s: the kernel can't decompress it and %s -c failed (status %d)", path,
		    tool,
		    pid < 0		? -1
		    : WIFEXITED(status) ? WEXITSTATUS(status)
					: 128);
		close(mfd);
		return -1;
	}
	lseek(mfd, 0, SEEK_SET);
	return mfd;
}

static void load_module(const char *p)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say("module %s: %s (skipped)", p, strerror(errno));
		return;
	}
	const char *tool = decompressor(p);
	int flags = tool ? MODULE_INIT_COMPRESSED_FILE : 0;
	long r = syscall(SYS_finit_module, fd, "", flags);
	if (r < 0 && tool && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOEXEC)) {
		/* kernel < 5.17 (EINVAL) or without CONFIG_MODULE_DECOMPRESS (EOPNOTSUPP) */
		close(fd);
		fd = decompress_module(p, tool);
		if (fd < 0)
			return;
		r = syscall(SYS_finit_module, fd, "", 0);
	}
	if (r < 0 && errno != EEXIST)
		say("finit_module %s: %s", p, strerror(errno));
	close(fd);
}

/* Say so when the initramfs's modules were built for another kernel than the one running
 * (finit_module would refuse each with "Exec format error"). */
static void check_kver(void)
{
	char want[256];
	int fd = open(KVER_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, want, sizeof(want) - 1);
	close(fd);
	if (n <= 0)
		return;
	want[n] = '\0';
	want[strcspn(want, "\r\n")] = '\0';
	struct utsname u;
	if (uname(&u) == 0 && strcmp(u.release, want) != 0)
		say("the initramfs's modules are for kernel %s, this kernel is %s: they will not "
		    "load "
		    "(make images KERNEL=...)",
		    want, u.release);
}

static void load_modules(void)
{
	FILE *f = fopen(LOAD_LIST, "re");
	if (!f) {
		if (errno != ENOENT)
			say("open %s: %s", LOAD_LIST, strerror(errno));
		return;
	}
	check_kver();
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		load_module(p);
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

/* minivm.root=DEV[,ro|,rw][,fstype=TYPE][,wait=SECONDS] from the kernel command line. */
struct root_opts {
	char dev[256];
	char fstype[64];
	int ro;
	int wait_s;
};

/* Whether the kernel command line asks for a root disk; fills o. */
static int root_param(struct root_opts *o)
{
	/* a /proc file has no size: read it in one go (the command line is at most 2 KiB) */
	char cmdline[4096];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	cmdline[n] = '\0';
	int found = 0;
	for (char *save = NULL, *tok = strtok_r(cmdline, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, "minivm.root=", 12) != 0)
			continue;
		*o = (struct root_opts){.wait_s = 5};
		found = 1;
		char *save2 = NULL, *part = strtok_r(tok + 12, ",", &save2);
		snprintf(o->dev, sizeof(o->dev), "%s", part ? part : "");
		while ((part = strtok_r(NULL, ",", &save2))) {
			if (strcmp(part, "ro") == 0)
				o->ro = 1;
			else if (strcmp(part, "rw") == 0)
				o->ro = 0;
			else if (strncmp(part, "fstype=", 7) == 0)
				snprintf(o->fstype, sizeof(o->fstype), "%s", part + 7);
			else if (strncmp(part, "wait=", 5) == 0)
				o->wait_s = atoi(part + 5);
			else
				say("minivm.root: unknown option '%s' (ignored)", part);
		}
	}
	return found;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Mount dev on dir: with the given type, or each block file system the kernel knows in turn
 * (as busybox mount does). */
static int mount_root(const struct root_opts *o, const char *dir)
{
	unsigned long flags = o->ro ? MS_RDONLY : 0;
	if (o->fstype[0]) {
		if (mount(o->dev, dir, o->fstype, flags, NULL) == 0)
			return 0;
		say("mount %s (%s) on %s: %s", o->dev, o->fstype, dir, strerror(errno));
		return -1;
	}
	/* ext4 first: the kernel lists ext3 and ext2 before it, and each refuses with a line */
	if (mount(o->dev, dir, "ext4", flags, NULL) == 0)
		return 0;
	FILE *f = fopen("/proc/filesystems", "re");
	char line[128];
	int err = errno == EINVAL || errno == ENODEV ? ENODEV : errno;
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "nodev", 5) == 0)
			continue;
		char *t = line + strspn(line, " \t");
		t[strcspn(t, " \t\r\n")] = '\0';
		if (!*t)
			continue;
		if (mount(o->dev, dir, t, flags, NULL) == 0) {
			fclose(f);
			return 0;
		}
		if (errno != EINVAL && errno != ENODEV)
			err = errno;
	}
	if (f)
		fclose(f);
	say("mount %s on %s: %s (no file system type fits; try fstype=)", o->dev, dir,
	    strerror(err));
	return -1;
}

/* Everything on the initramfs below dirfd, without crossing into other file systems (the
 * new root is mounted there): its memory goes back to the guest, as busybox switch_root does. */
static void delete_tree(int dirfd, dev_t dev)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				delete_tree(sub, dev);
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd, e->d_name, 0);
		}
	}
	closedir(d);
}

/* Make o->dev the root: wait for it, mount it, move /dev /proc /sys /tmp into it, a tmpfs
 * on its /run, empty the initramfs, move the mount onto / and chroot there. */
static int switch_root(const struct root_opts *o)
{
	struct stat st;
	double deadline = now_s() + o->wait_s;
	while (stat(o->dev, &st) < 0) {
		if (errno != ENOENT || now_s() >= deadline) {
			say("minivm.root=%s: %s after %d s", o->dev, strerror(errno), o->wait_s);
			return -1;
		}
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	if (mkdir(NEW_ROOT, 0755) < 0 && errno != EEXIST) {
		say("mkdir %s: %s", NEW_ROOT, strerror(errno));
		return -1;
	}
	if (mount_root(o, NEW_ROOT) < 0)
		return -1;
	static const char *const moved[] = {"/dev", "/proc", "/sys", "/tmp"};
	char target[64];
	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		snprintf(target, sizeof(target), NEW_ROOT "%s", moved[i]);
		if ((mkdir(target, 0755) < 0 && errno != EEXIST) ||
		    mount(moved[i], target, NULL, MS_MOVE, NULL) < 0) {
			say("move %s to the new root: %s", moved[i], strerror(errno));
			umount2(moved[i], MNT_DETACH);
		}
	}
	if (stat(NEW_ROOT "/run", &st) == 0 && S_ISDIR(st.st_mode))
		mount_one("tmpfs", NEW_ROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	if (chdir(NEW_ROOT) < 0) {
		say("chdir %s: %s", NEW_ROOT, strerror(errno));
		return -1;
	}
	struct statfs sf;
	struct stat rst;
	/* only ever empty an initramfs (ramfs or tmpfs), never a real disk */
	if (statfs("/", &sf) == 0 && (sf.f_type == 0x858458f6 || sf.f_type == 0x01021994) &&
	    stat("/", &rst) == 0) {
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			delete_tree(fd, rst.st_dev);
	}
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		say("switch to the root on %s: %s", o->dev, strerror(errno));
		return -1;
	}
	return 0;
}

/* Before powering off a guest whose root is a disk: end what the command left running
 * (a daemon), so that nothing writes any more, and remount the root read-only (a clean file
 * system for the next boot). */
static void release_root(void)
{
	kill(-1, SIGTERM);
	double deadline = now_s() + 2;
	while (now_s() < deadline) {
		pid_t w = waitpid(-1, NULL, WNOHANG);
		if (w < 0 && errno == ECHILD)
			break;
		if (w <= 0)
			nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sync();
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		say("remount / read-only: %s", strerror(errno));
}

/* The command's stdio on virtio-console ports (-1: the console, as without minivm). */
static int stdio_fd[3] = {-1, -1, -1};

/* Whether a virtio device of this type exists (virtio_pci enumerates them when it loads). */
static int have_virtio(const char *type)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d))) {
		char p[300], v[16] = "";
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/virtio/devices/%s/device", e->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, v, sizeof(v) - 1);
		if (fd >= 0)
			close(fd);
		found = n > 0 && strncmp(v, type, strlen(type)) == 0;
	}
	if (d)
		closedir(d);
	return found;
}

static const char *const port_names[] = {"minivm.stdin", "minivm.stdout", "minivm.stderr",
					 "minivm.tty"};

/* /dev/vportNpM for each named port found so far (dev[i] empty: not yet). */
static void scan_ports(char dev[4][64])
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[300], name[64] = "";
		if (e->d_name[0] == '.' || strlen(e->d_name) > 40)
			continue;
		snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, name, sizeof(name) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		for (int i = 0; i < 4; i++)
			if (strcmp(name, port_names[i]) == 0)
				snprintf(dev[i], 64, "/dev/%s", e->d_name);
	}
	if (d)
		closedir(d);
}

static int open_retry(const char *path, int flags, double deadline)
{
	for (;;) {
		int fd = open(path, flags | O_CLOEXEC);
		if (fd >= 0 || (errno != ENOENT && errno != ENXIO) || now_s() >= deadline)
			return fd;
		nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
	}
}

/* The terminal of minivm run -t: hvc0 as fds 0-2 and PID 1's controlling terminal (the
 * command runs in its foreground, as on the serial console), at the size minivm passed. */
static int use_tty(double deadline)
{
	int fd = open_retry("/dev/hvc0", O_RDWR | O_NOCTTY, deadline);
	if (fd < 0) {
		say("open /dev/hvc0: %s", strerror(errno));
		return -1;
	}
	ioctl(0, TIOCNOTTY);
	for (int i = 0; i < 3; i++)
		dup2(fd, i);
	close(fd);
	ioctl(0, TIOCSCTTY, 1);
	const char *sz = getenv("MINIVM_TTY_SIZE");
	unsigned rows, cols;
	if (sz && sscanf(sz, "%ux%u", &rows, &cols) == 2 && rows && cols && rows < 65536 &&
	    cols < 65536) {
		struct winsize ws = {.ws_row = (unsigned short)rows,
				     .ws_col = (unsigned short)cols};
		ioctl(0, TIOCSWINSZ, &ws);
	}
	return 0;
}

/* minivm's virtio-console: wait for its ports (the driver adds them from a work queue after
 * the module loaded) and open them. Without one (QEMU, an older minivm) nothing changes. */
static void setup_stdio(void)
{
	if (!have_virtio("0x0003"))
		return;
	double deadline = now_s() + 10;
	char dev[4][64];
	memset(dev, 0, sizeof(dev));
	for (;;) {
		scan_ports(dev);
		if (dev[3][0] || (dev[0][0] && dev[1][0] && dev[2][0]))
			break;
		if (now_s() >= deadline) {
			say("virtio-console: its ports did not show up in 10 s: the command's "
			    "stdio "
			    "is the serial console");
			return;
		}
		nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
	}
	if (dev[3][0]) {
		use_tty(deadline + 5);
		return;
	}
	static const int mode[3] = {O_RDONLY, O_WRONLY, O_WRONLY};
	for (int i = 0; i < 3; i++) {
		stdio_fd[i] = open_retry(dev[i], mode[i], deadline + 5);
		if (stdio_fd[i] < 0) {
			say("open %s (%s): %s: the command's stdio is the serial console", dev[i],
			    port_names[i], strerror(errno));
			for (int k = 0; k < i; k++)
				close(stdio_fd[k]);
			stdio_fd[0] = stdio_fd[1] = stdio_fd[2] = -1;
			return;
		}
	}
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
		if (stdio_fd[0] >= 0) {
			/* the ports: no terminal at all (docker run without -t) */
			setsid();
			for (int i = 0; i < 3; i++)
				dup2(stdio_fd[i], i); /* dup2 clears FD_CLOEXEC on the copy */
		} else {
			setpgid(0, 0);
			tcsetpgrp(0,
				  getpid()); /* both sides do it, as shells do, so neither races */
		}
		signal(SIGTTOU, SIG_DFL);
		signal(SIGTTIN, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		say("exec %s: %s", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (stdio_fd[0] >= 0) {
		/* the command holds the ports now: they close when it and its children are done */
		for (int i = 0; i < 3; i++)
			close(stdio_fd[i]);
	} else {
		setpgid(pid, pid);
		tcsetpgrp(0, pid);
	}
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
	/* the command and environment are in memory now: the initramfs may go */
	struct root_opts root;
	int on_disk = root_param(&root);
	int status;
	if (on_disk && switch_root(&root) < 0) {
		status = 125;
		on_disk = 0;
		milestone(MINI_DBG_READY, 0);
	} else {
		setup_stdio();
		unsetenv("MINIVM_TTY_SIZE");
		milestone(MINI_DBG_READY, 0);
		status = run_command(cmd);
	}
	milestone(MINI_DBG_EXIT, (unsigned)status);
	drain_console();
	if (on_disk && !root.ro)
		release_root();
	sync();
	reboot(RB_POWER_OFF);
	say("reboot: %s", strerror(errno));
	for (;;)
		pause();
}
