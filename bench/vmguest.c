#include "vmguest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "density.h"
#include "engine.h"
#include "paths.h"
#include "util.h"

/* The guest's command, the same for both VMMs: no double quote and no '=' (it goes on QEMU's
 * kernel command line), so what it runs comes on its stdin: PREPARE's line first (`set -f` and
 * eval of the unquoted variable: no globbing; runs of blanks outside quotes collapse, which
 * PREPARE doesn't mind), then the workload's script, which PREPARE runs as it is. */
#define GUEST_CMD "set -f; read -r s; eval $s"
/* The guest's root is the shared image, read-only (as the containers share the tree): a chroot
 * in /tmp/r binds every directory of it, a tmpfs /tmp, a writable copy of /etc with localhost
 * in /etc/hosts (debootstrap writes none, MariaDB needs it) and the guest's own data disk
 * (/dev/vdb) at /data, so that the workload's script sees the containers' paths. */
static const char prepare[] =
    "set +f; trap 'echo @mb x $?' EXIT; mkdir -p /tmp/r /tmp/etc || exit 1; for d in /*; do "
    "case $d in /tmp|/etc) continue;; esac; if [ -L $d ]; then cp -a $d /tmp/r/ || exit 1; "
    "else mkdir -p /tmp/r$d && mount --rbind $d /tmp/r$d || exit 1; fi; done; "
    "mkdir -p /tmp/r/tmp /tmp/r/etc /tmp/r/data && mount -t tmpfs -o mode=1777 tmpfs /tmp/r/tmp "
    "&& cp -a /etc/. /tmp/etc/ && printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost "
    "ip6-localhost\\n' >/tmp/etc/hosts && mount --bind /tmp/etc /tmp/r/etc && "
    "mount -o noinit_itable /dev/vdb /tmp/r/data || exit 1; read -r w; trap - EXIT; "
    "exec chroot /tmp/r /bin/sh -c \"$w\" $0\n";
/* the kernel's console and the root switch (read-only): minivm's default line plus that */
#define CMDLINE "console=ttyS0 quiet panic=-1 no_timer_check minivm.root=/dev/vda,ro"
/* the data disk's size (sparse): room for fileio's and MariaDB's files */
#define DATA_SIZE "4G"

int mb_vm_tool(enum mb_backend b, struct mb_launcher *l, mc_err *err)
{
	const char *name = mb_backend_name(b);
	if (b == MB_VM) {
		const char *env = getenv("MINIVM");
		int n = env && *env
			    ? snprintf(l->tool, sizeof(l->tool), "%s", env)
			    : snprintf(l->tool, sizeof(l->tool), "%s/minivm", mb_self_dir());
		if (n < 0 || (size_t)n >= sizeof(l->tool))
			return mc_errorf(err, 0, "backend vm: minivm path too long");
		if (access(l->tool, X_OK) < 0)
			return mc_errorf(err, 0,
					 "backend vm: minivm is not built: no %s (make, or set "
					 "MINIVM)",
					 l->tool);
	} else if (!mb_which("qemu-system-x86_64", l->tool, sizeof(l->tool))) {
		return mc_errorf(err, 0,
				 "backend qemu: qemu-system-x86_64 is not installed (make deps)");
	}
	if (access("/dev/kvm", R_OK | W_OK) < 0)
		return mc_errorf(err, errno, "backend %s: /dev/kvm", name);
	return 0;
}

int mb_vm_images(struct mb_vm_spec *v, mc_err *err)
{
	static const struct {
		const char *var, *what;
		size_t off;
	} want[] = {
	    {"MINIVM_KERNEL", "guest kernel", offsetof(struct mb_vm_spec, kernel)},
	    {"MINIVM_INITRD", "initramfs", offsetof(struct mb_vm_spec, initrd)},
	    {"MINIVM_ROOTFS_IMG", "benchmark rootfs image", offsetof(struct mb_vm_spec, image)},
	};
	for (size_t i = 0; i < MC_ARRAY_SIZE(want); i++) {
		char *p = (char *)v + want[i].off;
		mb_images_env(want[i].var, p, PATH_MAX);
		if (!p[0])
			return mc_errorf(err, 0, "the %s is not built (make images, or set %s)",
					 want[i].what, want[i].var);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			return mc_errorf(err, 0, "the %s `%s` is missing (make images, or set %s)",
					 want[i].what, p, want[i].var);
	}
	return 0;
}

int mb_vm_images_check(mc_err *err)
{
	/* three PATH_MAX paths: not on the stack */
	struct mb_vm_spec *v = calloc(1, sizeof(*v));
	if (!v)
		return mc_errorf(err, ENOMEM, "the VM images");
	int rc = mb_vm_images(v, err);
	free(v);
	return rc;
}

int mb_vm_script(char *buf, size_t size, const char *setup, const char *cmd, const char *down,
		 mc_err *err)
{
	int n = snprintf(buf, size,
			 "trap 'echo @mb x $?' EXIT; cd /data || exit 1; %s echo @mb a; read x; %s "
			 ">/data/sysbench.out 2>&1; s=$?; echo @mb e; %s cat /data/sysbench.out; "
			 "[ $s = 0 ] || tail -n 3 /data/sysbench.out >&2; exit $s",
			 setup, cmd, down);
	if (n < 0 || (size_t)n >= size || strchr(buf, '\n'))
		return mc_errorf(err, 0, "the VM guests' script does not fit in one line");
	return 0;
}

int mb_vm_prepare(struct mb_vm_spec *v, char *script, size_t size, const char *setup,
		  const char *cmd, const char *down, const char *dir, const char *out,
		  const char *mbdir, mc_err *err)
{
	if (mb_vm_images(v, err) < 0 || mb_vm_script(script, size, setup, cmd, down, err) < 0)
		return -1;
	v->dir = dir;
	v->out = out;
	v->mbdir = mbdir;
	v->script = script;
	v->cpus = MB_GUEST_CPUS;
	v->mem_mib = MB_GUEST_MEM_MIB;
	v->timings = false;
	return 0;
}

/* Drop a disk image from the host's page cache (no batch starts with another's cache). */
static void uncache(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int mb_vm_disks(const struct mb_vm_spec *v, unsigned k, const char *data_stage, const char *log,
		mc_err *err)
{
	char dir[PATH_MAX], data[PATH_MAX + 16], mkfs[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/g%u", v->dir, k);
	snprintf(data, sizeof(data), "%s/data.ext4", dir);
	if (mc_mkdir_p(dir, 0755, err) < 0)
		return mc_wrap(err, "guest %u's disks", k + 1);
	if (data_stage || access(data, F_OK) < 0) {
		unlink(data);
		if (!mb_which("mkfs.ext4", mkfs, sizeof(mkfs)))
			return mc_errorf(err, 0, "mkfs.ext4 is not installed (make deps)");
		/* lazy inode tables, mounted with noinit_itable: no zeroing in the guest */
		char *mk[12] = {mkfs, "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1"};
		size_t n = 5;
		if (data_stage) {
			mk[n++] = "-d";
			mk[n++] = (char *)data_stage;
		}
		mk[n++] = data;
		mk[n++] = DATA_SIZE;
		mk[n] = NULL;
		if (mb_run_cmd(mk, log, err) < 0)
			return mc_wrap(err, "guest %u: its data disk", k + 1);
	}
	uncache(data);
	return 0;
}

/* ---- the relay ------------------------------------------------------------------------------ */

static void vmm_argv(const struct mb_launcher *l, const struct mb_vm_spec *v, const char *dir,
		     char *k, char **argv)
{
	static char mem[32], cpus[16], con[PATH_MAX + 64], d0[PATH_MAX + 64], d1[PATH_MAX + 64],
	    append[512];
	size_t n = 0;
	argv[n++] = (char *)l->tool;
	if (l->backend == MB_VM) {
		snprintf(mem, sizeof(mem), "%uM", v->mem_mib);
		snprintf(cpus, sizeof(cpus), "%u", v->cpus);
		snprintf(con, sizeof(con), "%s/console.log", dir);
		snprintf(d0, sizeof(d0), "%s,ro", v->image);
		snprintf(d1, sizeof(d1), "%s/data.ext4", dir);
		char *a[] = {
		    "run",    "--kernel",  (char *)v->kernel, "--initrd", (char *)v->initrd,
		    "--cpus", cpus,	   "--mem",	      mem,	  "--console-log",
		    con,      "--cmdline", CMDLINE,	      "--disk",	  d0};
		for (size_t i = 0; i < MC_ARRAY_SIZE(a); i++)
			argv[n++] = a[i];
		argv[n++] = "--disk";
		argv[n++] = d1;
		if (v->timings) {
			argv[n++] = "--timings";
			argv[n++] = "json";
		}
		argv[n++] = "--";
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = GUEST_CMD;
		argv[n++] = k;
	} else {
		/* q35, virtio-blk-pci and virtio-serial-pci: the guest's stdin from QEMU's stdin,
		 * its stdout and stderr appended to QEMU's (the relay's pipe, the guests' log) */
		snprintf(mem, sizeof(mem), "%u", v->mem_mib);
		snprintf(cpus, sizeof(cpus), "%u", v->cpus);
		snprintf(con, sizeof(con), "file:%s/console.log", dir);
		snprintf(d0, sizeof(d0), "file=%s,if=none,id=d0,format=raw,readonly=on", v->image);
		snprintf(d1, sizeof(d1), "file=%s/data.ext4,if=none,id=d1,format=raw", dir);
		snprintf(append, sizeof(append), "%s -- /bin/sh -c \"%s\" %s", CMDLINE, GUEST_CMD,
			 k);
		char *a[] = {"-accel",
			     "kvm",
			     "-M",
			     "q35",
			     "-cpu",
			     "host",
			     "-smp",
			     cpus,
			     "-m",
			     mem,
			     "-nodefaults",
			     "-no-user-config",
			     "-display",
			     "none",
			     "-no-reboot",
			     "-serial",
			     con,
			     "-kernel",
			     (char *)v->kernel,
			     "-initrd",
			     (char *)v->initrd,
			     "-append",
			     append,
			     "-drive",
			     d0,
			     "-device",
			     "virtio-blk-pci,drive=d0",
			     "-device",
			     "virtio-serial-pci,max_ports=4",
			     "-chardev",
			     "stdio,id=cin,signal=off",
			     "-chardev",
			     "file,id=cout,path=/proc/self/fd/1,append=on",
			     "-chardev",
			     "file,id=cerr,path=/proc/self/fd/2,append=on",
			     "-device",
			     "virtserialport,chardev=cin,name=minivm.stdin,nr=1",
			     "-device",
			     "virtserialport,chardev=cout,name=minivm.stdout,nr=2",
			     "-device",
			     "virtserialport,chardev=cerr,name=minivm.stderr,nr=3"};
		for (size_t i = 0; i < MC_ARRAY_SIZE(a); i++)
			argv[n++] = a[i];
		argv[n++] = "-drive";
		argv[n++] = d1;
		argv[n++] = "-device";
		argv[n++] = "virtio-blk-pci,drive=d1";
	}
	argv[n] = NULL;
}

struct relay {
	unsigned k;
	int in, events, go, out;
	bool up, released, done;
	int status; /* "@mb x N", -1 until then */
};

static void die(unsigned k, const char *what)
{
	dprintf(2, "vm guest %u: %s: %s\n", k + 1, what, strerror(errno));
	_exit(125);
}

/* One line of the guest's stdout (NUL-terminated, without its newline). */
static void relay_line(struct relay *r, const char *line, size_t len)
{
	char ev[32];
	if (strcmp(line, "@mb a") == 0 && !r->up) {
		r->up = true;
		int n = snprintf(ev, sizeof(ev), "a %u\n", r->k);
		if (mc_write_all(r->events, ev, (size_t)n) != n)
			die(r->k, "write /mb/events");
		/* the release: one byte for each guest (spawn.c), then on to the guest */
		char c;
		ssize_t got;
		while ((got = read(r->go, &c, 1)) < 0 && errno == EINTR)
			;
		if (got != 1)
			die(r->k, "read /mb/go");
		r->released = true;
		if (mc_write_all(r->in, "\n", 1) != 1)
			die(r->k, "write the guest's stdin");
	} else if (strcmp(line, "@mb e") == 0 && r->released && !r->done) {
		r->done = true;
		int n = snprintf(ev, sizeof(ev), "e %u\n", r->k);
		if (mc_write_all(r->events, ev, (size_t)n) != n)
			die(r->k, "write /mb/events");
	} else if (strncmp(line, "@mb x ", 6) == 0 && r->status < 0) {
		/* guest-controlled: a status is 0..255 */
		char *end;
		errno = 0;
		unsigned long s = strtoul(line + 6, &end, 10);
		if (errno == 0 && end != line + 6 && *end == 0 && s <= 255)
			r->status = (int)s;
	} else if (mc_write_all(r->out, line, len) != (ssize_t)len ||
		   mc_write_all(r->out, "\n", 1) != 1) {
		die(r->k, "write the guest's output");
	}
}

/* With timings: minivm's stderr (dir/vmm.err) on to ours but for its milestones line (the
 * line that starts with `{"start":`), which goes to dir/timings.json. */
static void split_timings(const char *dir, unsigned k)
{
	char path[PATH_MAX + 32], line[4096];
	snprintf(path, sizeof(path), "%s/vmm.err", dir);
	_cleanup_fclose_ FILE *in = fopen(path, "re");
	snprintf(path, sizeof(path), "%s/timings.json", dir);
	_cleanup_fclose_ FILE *out = fopen(path, "we");
	if (!in || !out) {
		dprintf(2, "vm guest %u: minivm's timings: %s\n", k + 1, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), in)) {
		if (strncmp(line, "{\"start\":", 9) == 0)
			fputs(line, out);
		else
			dprintf(2, "%s", line);
	}
}

void mb_vm_guest_exec(const struct mb_launcher *l, const struct mb_vm_spec *v, unsigned k)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], idx[16];
	snprintf(dir, sizeof(dir), "%s/g%u", v->dir, k);
	snprintf(idx, sizeof(idx), "%u", k);
	struct relay r = {.k = k, .status = -1};
	/* the runner holds both FIFOs open read-write: these opens don't block */
	snprintf(path, sizeof(path), "%s/events", v->mbdir);
	r.events = open(path, O_WRONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/go", v->mbdir);
	r.go = open(path, O_RDONLY | O_CLOEXEC);
	if (r.events < 0 || r.go < 0)
		die(k, "open the barrier's FIFOs");
	snprintf(path, sizeof(path), "%s/%s", dir, v->out);
	r.out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r.out < 0)
		die(k, path);
	bool timings = v->timings && l->backend == MB_VM;
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		die(k, "pipe");
	/* the VMM and the relay die with the runner (a killed minibench leaves no VM) */
	pid_t parent = getpid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pid_t vmm = fork();
	if (vmm < 0)
		die(k, "fork");
	if (vmm == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(125);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(125);
		if (timings) {
			snprintf(path, sizeof(path), "%s/vmm.err", dir);
			int e = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (e < 0 || dup2(e, 2) < 0)
				_exit(125);
		}
		char *argv[80];
		vmm_argv(l, v, dir, idx, argv);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	r.in = in[1];
	signal(SIGPIPE, SIG_IGN); /* a VMM that died: its pipe's EPIPE, then its status */
	size_t plen = strlen(prepare), slen = strlen(v->script);
	if (mc_write_all(r.in, prepare, plen) != (ssize_t)plen ||
	    mc_write_all(r.in, v->script, slen) != (ssize_t)slen ||
	    mc_write_all(r.in, "\n", 1) != 1)
		dprintf(2, "vm guest %u: write its script: %s\n", k + 1, strerror(errno));
	/* the guest's stdout, line by line; a longer line than the buffer goes out in pieces */
	static char buf[65536];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(out[0], buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (size_t i = start; i < have; i++)
			if (buf[i] == '\n') {
				buf[i] = 0;
				relay_line(&r, buf + start, i - start);
				start = i + 1;
			}
		if (start == 0 && have == sizeof(buf) - 1) {
			buf[have] = 0;
			relay_line(&r, buf, have);
			have = 0;
		} else {
			memmove(buf, buf + start, have - start);
			have -= start;
		}
	}
	if (have) {
		buf[have] = 0;
		relay_line(&r, buf, have);
	}
	int st;
	while (waitpid(vmm, &st, 0) < 0)
		if (errno != EINTR)
			die(k, "wait for the VMM");
	if (timings)
		split_timings(dir, k);
	const char *name = mb_backend_name(l->backend);
	if (WIFSIGNALED(st)) {
		dprintf(2, "vm guest %u: %s killed by signal %d\n", k + 1, name, WTERMSIG(st));
		_exit(125);
	}
	if (r.status < 0) {
		char con[PATH_MAX + 32], line[256];
		snprintf(con, sizeof(con), "%s/console.log", dir);
		mb_last_line(con, line, sizeof(line));
		dprintf(2,
			"the VM ended (%s exited with status %d) before its script reported a "
			"status (console: %s)\n",
			name, WEXITSTATUS(st), line);
		_exit(125);
	}
	_exit(r.status);
}
