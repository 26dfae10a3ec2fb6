/* ct_probe: a small static program run inside a container by the OCI conformance tests
 * (tests/host/runtime_conf_*.sh). Each subcommand prints facts one per line, "KEY VALUE...",
 * in a stable format, so a test can compare what minict and runc produced for one config.
 *
 *   status            uid/gid (real effective saved fs), groups, the five capability sets as
 *                     hex, no_new_privs, seccomp mode, oom_score_adj, umask, cwd, hostname,
 *                     domainname, pid, ppid
 *   env               "env NAME=VALUE" for each variable, in order
 *   rlimits           "rlimit NAME SOFT HARD" (unlimited printed as "unlimited")
 *   ns                "ns TYPE INODE" for each /proc/self/ns entry
 *   mounts            "mount TARGET FSTYPE VFS-OPTS SUPER-OPTS PROPAGATION" (private, shared:N,
 *                     master:N, shared:N,master:M), from /proc/self/mountinfo
 *   stat PATH...      "stat PATH TYPE MAJ:MIN MODE UID GID" or "stat PATH ERRNO"
 *   read PATH         "read PATH ok BYTES" (at most 1 MiB is read) or "read PATH ERRNO"
 *   cat PATH          the file's content, raw
 *   file PATH...      "file PATH LINE" for each line of each file (cgroup knobs: several
 *                     lines like memory.oom_control), "file PATH ERRNO" if it can't be read;
 *                     takes every following argument that starts with '/'
 *   write PATH        opens PATH for writing and writes one line: "write PATH ok" or ERRNO
 *   mkdir PATH        "mkdir PATH ok" or ERRNO (through the libc wrapper: mkdirat on x86_64)
 *   syscall NAME      tries one syscall, "syscall NAME ok" or "syscall NAME ERRNO":
 *                     getcwd mkdir mkdirat getpid uname chdir socket personality
 *                     unshare_uts sethostname getuid
 *   sysctl KEY        "sysctl KEY VALUE" (the first line of /proc/sys/KEY) or ERRNO
 *   cgroup            "cgroup LINE" for each line of /proc/self/cgroup
 *   fds               "fd N" for each open descriptor
 *   exit N            exits with status N
 *
 * Several subcommands may follow one another: `ct_probe status ns cgroup`. stat takes every
 * following argument that starts with '/'. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "EUNKNOWN";
}

/* print the value after "Key:\t" of /proc/self/status as "name value" */
static void status_line(const char *key, const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[4096];
	size_t kl = strlen(key);
	if (!f) {
		printf("%s %s\n", name, ename(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			char *v = line + kl + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			for (size_t l = strlen(v); l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t');
			     l--)
				v[l - 1] = 0;
			/* tabs between fields become single spaces */
			for (char *p = v; *p; p++)
				if (*p == '\t')
					*p = ' ';
			printf("%s%s%s\n", name, *v ? " " : "", v);
			fclose(f);
			return;
		}
	}
	printf("%s absent\n", name);
	fclose(f);
}

static void first_line(const char *path, const char *name)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		printf("%s %s\n", name, ename(e));
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("%s %s\n", name, buf);
}

static void cmd_status(void)
{
	status_line("Uid", "uid");
	status_line("Gid", "gid");
	status_line("Groups", "groups");
	status_line("CapInh", "cap_inh");
	status_line("CapPrm", "cap_prm");
	status_line("CapEff", "cap_eff");
	status_line("CapBnd", "cap_bnd");
	status_line("CapAmb", "cap_amb");
	status_line("NoNewPrivs", "no_new_privs");
	status_line("Seccomp", "seccomp");
	first_line("/proc/self/oom_score_adj", "oom_score_adj");
	mode_t m = umask(0);
	umask(m);
	printf("umask %04o\n", (unsigned)m);
	char cwd[4096];
	printf("cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : ename(errno));
	struct utsname u;
	if (uname(&u) == 0) {
		printf("hostname %s\n", u.nodename);
		printf("domainname %s\n", u.domainname);
	}
	printf("pid %d\n", (int)getpid());
	printf("ppid %d\n", (int)getppid());
}

static void cmd_env(void)
{
	for (char **e = environ; *e; e++)
		printf("env %s\n", *e);
}

static void cmd_rlimits(void)
{
	static const struct {
		int res;
		const char *name;
	} r[] = {
	    {RLIMIT_AS, "RLIMIT_AS"},
	    {RLIMIT_CORE, "RLIMIT_CORE"},
	    {RLIMIT_CPU, "RLIMIT_CPU"},
	    {RLIMIT_DATA, "RLIMIT_DATA"},
	    {RLIMIT_FSIZE, "RLIMIT_FSIZE"},
	    {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
	    {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
	    {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
	    {RLIMIT_NICE, "RLIMIT_NICE"},
	    {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
	    {RLIMIT_NPROC, "RLIMIT_NPROC"},
	    {RLIMIT_RSS, "RLIMIT_RSS"},
	    {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
	    {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
	    {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
	    {RLIMIT_STACK, "RLIMIT_STACK"},
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct rlimit rl;
		if (getrlimit(r[i].res, &rl) < 0) {
			printf("rlimit %s %s\n", r[i].name, ename(errno));
			continue;
		}
		char s[32], h[32];
		if (rl.rlim_cur == RLIM_INFINITY)
			strcpy(s, "unlimited");
		else
			snprintf(s, sizeof(s), "%llu", (unsigned long long)rl.rlim_cur);
		if (rl.rlim_max == RLIM_INFINITY)
			strcpy(h, "unlimited");
		else
			snprintf(h, sizeof(h), "%llu", (unsigned long long)rl.rlim_max);
		printf("rlimit %s %s %s\n", r[i].name, s, h);
	}
}

static void cmd_ns(void)
{
	static const char *types[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char p[64];
		struct stat st;
		snprintf(p, sizeof(p), "/proc/self/ns/%s", types[i]);
		if (stat(p, &st) < 0)
			printf("ns %s %s\n", types[i], ename(errno));
		else
			printf("ns %s %llu\n", types[i], (unsigned long long)st.st_ino);
	}
}

/* mountinfo: ID PARENT MAJ:MIN ROOT TARGET VFSOPTS OPTIONAL... - FSTYPE SOURCE SUPEROPTS */
static void cmd_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192];
	if (!f) {
		printf("mounts %s\n", ename(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *fields[64];
		int n = 0;
		for (char *t = strtok(line, " \n"); t && n < 64; t = strtok(NULL, " \n"))
			fields[n++] = t;
		if (n < 10)
			continue;
		int dash = -1;
		for (int i = 6; i < n; i++)
			if (strcmp(fields[i], "-") == 0) {
				dash = i;
				break;
			}
		if (dash < 0 || dash + 3 >= n + 1 || dash + 3 > n)
			continue;
		char prop[256] = "";
		for (int i = 6; i < dash; i++) {
			if (prop[0])
				strncat(prop, ",", sizeof(prop) - strlen(prop) - 1);
			strncat(prop, fields[i], sizeof(prop) - strlen(prop) - 1);
		}
		printf("mount %s %s %s %s %s\n", fields[4], fields[dash + 1], fields[5],
		       dash + 3 < n ? fields[dash + 3] : "-", prop[0] ? prop : "private");
	}
	fclose(f);
}

static void cmd_stat(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		printf("stat %s %s\n", path, ename(errno));
		return;
	}
	const char *t = S_ISCHR(st.st_mode)    ? "char"
			: S_ISBLK(st.st_mode)  ? "block"
			: S_ISDIR(st.st_mode)  ? "dir"
			: S_ISREG(st.st_mode)  ? "file"
			: S_ISLNK(st.st_mode)  ? "symlink"
			: S_ISFIFO(st.st_mode) ? "fifo"
			: S_ISSOCK(st.st_mode) ? "socket"
					       : "other";
	unsigned maj = 0, mi = 0;
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		maj = major(st.st_rdev);
		mi = minor(st.st_rdev);
	}
	printf("stat %s %s %u:%u %04o %u %u\n", path, t, maj, mi, (unsigned)(st.st_mode & 07777),
	       (unsigned)st.st_uid, (unsigned)st.st_gid);
}

static void cmd_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("read %s %s\n", path, ename(errno));
		return;
	}
	char buf[65536];
	long total = 0;
	ssize_t n;
	/* at most 1 MiB: /dev/zero and /dev/full never end */
	while (total < (1 << 20) && (n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		printf("read %s %s\n", path, ename(errno));
	else
		printf("read %s ok %ld\n", path, total);
	close(fd);
}

static void cmd_cat(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("cat %s %s\n", path, ename(errno));
		return;
	}
	char buf[65536];
	ssize_t n;
	fflush(stdout);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, n) != n)
			break;
	close(fd);
}

static void cmd_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	if (!f) {
		printf("file %s %s\n", path, ename(errno));
		return;
	}
	errno = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		printf("file %s %s\n", path, line);
	}
	if (ferror(f))
		printf("file %s %s\n", path, ename(errno));
	fclose(f);
}

static void cmd_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("write %s %s\n", path, ename(errno));
		return;
	}
	ssize_t n = write(fd, "1\n", 2);
	int e = errno;
	close(fd);
	if (n < 0)
		printf("write %s %s\n", path, ename(e));
	else
		printf("write %s ok\n", path);
}

static void report(const char *what, const char *arg, long r)
{
	if (r < 0)
		printf("%s %s %s\n", what, arg, ename(errno));
	else
		printf("%s %s ok\n", what, arg);
}

static void cmd_syscall(const char *name)
{
	char buf[256];
	long r;
	if (strcmp(name, "getcwd") == 0)
		r = syscall(SYS_getcwd, buf, sizeof(buf));
	else if (strcmp(name, "mkdir") == 0)
		r = syscall(SYS_mkdir, "/tmp/ct_probe.mkdir", 0755);
	else if (strcmp(name, "mkdirat") == 0)
		r = syscall(SYS_mkdirat, AT_FDCWD, "/tmp/ct_probe.mkdirat", 0755);
	else if (strcmp(name, "getpid") == 0)
		r = syscall(SYS_getpid);
	else if (strcmp(name, "getuid") == 0)
		r = syscall(SYS_getuid);
	else if (strcmp(name, "uname") == 0) {
		struct utsname u;
		r = syscall(SYS_uname, &u);
	} else if (strcmp(name, "chdir") == 0)
		r = syscall(SYS_chdir, "/");
	else if (strcmp(name, "socket") == 0)
		r = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	else if (strcmp(name, "personality") == 0)
		r = syscall(SYS_personality, 0xffffffffUL);
	else if (strcmp(name, "unshare_uts") == 0)
		r = syscall(SYS_unshare, CLONE_NEWUTS);
	else if (strcmp(name, "sethostname") == 0)
		r = syscall(SYS_sethostname, "probe", 5);
	else {
		printf("syscall %s unknown\n", name);
		return;
	}
	report("syscall", name, r);
}

static void cmd_sysctl(const char *key)
{
	char path[512], name[600];
	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	for (char *p = path + strlen("/proc/sys/"); *p; p++)
		if (*p == '.')
			*p = '/';
	snprintf(name, sizeof(name), "sysctl %s", key);
	first_line(path, name);
}

static void cmd_cgroup(void)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[4096];
	if (!f) {
		printf("cgroup %s\n", ename(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		printf("cgroup %s\n", line);
	}
	fclose(f);
}

static void cmd_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		printf("fds %s\n", ename(errno));
		return;
	}
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != self)
			printf("fd %s\n", e->d_name);
	closedir(d);
}

static int need(int i, int argc, const char *cmd)
{
	if (i >= argc) {
		fprintf(stderr, "ct_probe: %s needs an argument\n", cmd);
		exit(2);
	}
	return i;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr,
			"usage: ct_probe status|env|rlimits|ns|mounts|stat PATH...|read PATH|"
			"cat PATH|file PATH...|write PATH|mkdir PATH|syscall NAME|"
			"sysctl KEY|cgroup|fds|exit N ...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *c = argv[i];
		if (strcmp(c, "status") == 0)
			cmd_status();
		else if (strcmp(c, "env") == 0)
			cmd_env();
		else if (strcmp(c, "rlimits") == 0)
			cmd_rlimits();
		else if (strcmp(c, "ns") == 0)
			cmd_ns();
		else if (strcmp(c, "mounts") == 0)
			cmd_mounts();
		else if (strcmp(c, "stat") == 0) {
			need(i + 1, argc, c);
			while (i + 1 < argc && argv[i + 1][0] == '/')
				cmd_stat(argv[++i]);
		} else if (strcmp(c, "file") == 0) {
			need(i + 1, argc, c);
			while (i + 1 < argc && argv[i + 1][0] == '/')
				cmd_file(argv[++i]);
		} else if (strcmp(c, "read") == 0)
			cmd_read(argv[i = need(i + 1, argc, c)]);
		else if (strcmp(c, "cat") == 0)
			cmd_cat(argv[i = need(i + 1, argc, c)]);
		else if (strcmp(c, "write") == 0)
			cmd_write(argv[i = need(i + 1, argc, c)]);
		else if (strcmp(c, "mkdir") == 0) {
			i = need(i + 1, argc, c);
			report("mkdir", argv[i], mkdir(argv[i], 0755));
		} else if (strcmp(c, "syscall") == 0)
			cmd_syscall(argv[i = need(i + 1, argc, c)]);
		else if (strcmp(c, "sysctl") == 0)
			cmd_sysctl(argv[i = need(i + 1, argc, c)]);
		else if (strcmp(c, "cgroup") == 0)
			cmd_cgroup();
		else if (strcmp(c, "fds") == 0)
			cmd_fds();
		else if (strcmp(c, "exit") == 0) {
			i = need(i + 1, argc, c);
			fflush(stdout);
			return atoi(argv[i]);
		} else {
			fprintf(stderr, "ct_probe: unknown subcommand %s\n", c);
			return 2;
		}
	}
	return 0;
}
