#include "density.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle.h"
#include "cgroup.h"
#include "cleanup.h"
#include "engine.h"
#include "experiment.h"
#include "paths.h"
#include "report.h"
#include "spawn.h"
#include "sysbench.h"
#include "util.h"
#include "vmguest.h"

/* ---- the workloads: sysbench 1.0 commands mapped from the study's 0.4.12 runs ---------- */

enum workload { W_CPU, W_FILEIO, W_OLTP, NWORKLOADS };
static const char *const wnames[NWORKLOADS] = {"cpu", "fileio", "oltp"};

/* Sizes: the study's (full) and CI-sized (--quick). */
struct sizes {
	unsigned cpu_events;	  /* 0.4.12's default request count: 10000 */
	unsigned fileio_files;	  /* 0.4.12's default: 128 */
	const char *fileio_total; /* the study: 10x the guest's RAM */
	unsigned fileio_secs;	  /* the study: 300 s */
	unsigned oltp_rows;	  /* the study: 1,000,000 */
	unsigned oltp_secs;	  /* the study: 60 s */
};
static const struct sizes full_sizes = {10000, 128, "5G", 300, 1000000, 60};
static const struct sizes quick_sizes = {300, 4, "64M", 3, 10000, 5};

#define SOCK  "/data/mysqld.sock"
#define MYSQL "--mysql-socket=" SOCK " --mysql-user=root --mysql-db=sbtest"
/* the same server settings everywhere: a small buffer pool (a 256 MiB guest must fit) */
#define MARIADBD                                                                                   \
	"mariadbd --user=root --datadir=/data/mysql --socket=" SOCK                                \
	" --pid-file=/data/mysqld.pid --skip-networking --innodb-buffer-pool-size=64M "            \
	"--log-error=/data/mysqld.err"
/* up to 120 s for the server to answer (several starting at once on a busy host) */
#define MARIADB_WAIT                                                                               \
	"i=0; until mariadb-admin --socket=" SOCK " ping >/dev/null 2>&1; do i=$((i+1)); "         \
	"if [ $i -ge 1200 ] || ! kill -0 $m 2>/dev/null; then echo \"mariadbd did not start: "     \
	"$(tail -n 1 /data/mysqld.err)\" >&2; exit 1; fi; sleep 0.1; done; "

/* The guest's commands: set-up before the barrier, the timed run, tear-down after "e". */
static void workload_cmds(enum workload w, const struct sizes *z, char *setup, char *run,
			  char *down, size_t size)
{
	setup[0] = down[0] = 0;
	switch (w) {
	case W_CPU:
		snprintf(run, size,
			 "sysbench cpu --cpu-max-prime=30000 --threads=1 --time=0 --events=%u run",
			 z->cpu_events);
		break;
	case W_FILEIO:
		/* the files are made once per guest (the first batch, untimed), then reused */
		snprintf(setup, size,
			 "mkdir -p /data/fileio && cd /data/fileio && if [ ! -e .prepared ]; then "
			 "sysbench fileio --file-num=%u --file-total-size=%s prepare "
			 ">/data/prepare.out 2>&1 || { tail -n 3 /data/prepare.out >&2; exit 1; }; "
			 "touch .prepared; fi; ",
			 z->fileio_files, z->fileio_total);
		snprintf(
		    run, size,
		    "sysbench fileio --file-num=%u --file-total-size=%s --file-block-size=16384 "
		    "--file-test-mode=rndrw --file-io-mode=sync --file-fsync-freq=100 "
		    "--file-rw-ratio=1.5 --time=%u --events=0 run",
		    z->fileio_files, z->fileio_total, z->fileio_secs);
		break;
	case W_OLTP:
		snprintf(setup, size, "%s & m=$!; %s", MARIADBD, MARIADB_WAIT);
		snprintf(run, size,
			 "sysbench oltp_read_write " MYSQL
			 " --tables=1 --table-size=%u --threads=6 "
			 "--time=%u --events=0 --report-interval=0 run",
			 z->oltp_rows, z->oltp_secs);
		snprintf(down, size,
			 "mariadb-admin --socket=" SOCK " shutdown >/dev/null 2>&1; wait; ");
		break;
	default:
		break;
	}
}

/* ---- metrics: what each guest's run yields, recorded per guest (or per batch) ---------- */

enum metric {
	M_TOTAL_TIME,
	M_EVENTS_PER_S,
	M_LAT_MIN,
	M_LAT_AVG,
	M_LAT_MAX,
	M_LAT_P95,
	M_RW_PER_S,
	M_READS_PER_S,
	M_WRITES_PER_S,
	M_FSYNCS_PER_S,
	M_TPS,
	M_QPS,
	M_QREADS_PER_S,
	M_QWRITES_PER_S,
	M_START_READY,
	M_READY_EXIT,
	M_RSS,
	M_PSS,
	M_HOST, /* per batch */
	M_WALL, /* per batch */
	NMETRICS
};

#define WM(w) (1u << (w))
#define ALLW  (WM(W_CPU) | WM(W_FILEIO) | WM(W_OLTP))

static const struct mdef {
	const char *name, *unit, *label;
	unsigned workloads; /* the workloads that have it */
	int per_batch;
} mdefs[NMETRICS] = {
    [M_TOTAL_TIME] = {"total_time", "s", "total s", ALLW, 0},
    [M_EVENTS_PER_S] = {"events_per_s", "1/s", "ev/s", ALLW, 0},
    [M_LAT_MIN] = {"lat_min", "ms", "min ms", ALLW, 0},
    [M_LAT_AVG] = {"lat_avg", "ms", "avg ms", ALLW, 0},
    [M_LAT_MAX] = {"lat_max", "ms", "max ms", ALLW, 0},
    [M_LAT_P95] = {"lat_p95", "ms", "p95 ms", ALLW, 0},
    [M_RW_PER_S] = {"rw_per_s", "1/s", "r+w/s", WM(W_FILEIO), 0},
    [M_READS_PER_S] = {"reads_per_s", "1/s", "reads/s", WM(W_FILEIO), 0},
    [M_WRITES_PER_S] = {"writes_per_s", "1/s", "writes/s", WM(W_FILEIO), 0},
    [M_FSYNCS_PER_S] = {"fsyncs_per_s", "1/s", "fsyncs/s", WM(W_FILEIO), 0},
    [M_TPS] = {"transactions_per_s", "1/s", "trx/s", WM(W_OLTP), 0},
    [M_QPS] = {"queries_per_s", "1/s", "qry/s", WM(W_OLTP), 0},
    [M_QREADS_PER_S] = {"read_queries_per_s", "1/s", "reads/s", WM(W_OLTP), 0},
    [M_QWRITES_PER_S] = {"write_queries_per_s", "1/s", "writes/s", WM(W_OLTP), 0},
    [M_START_READY] = {"start_ready", "ms", "ready ms", ALLW, 0},
    [M_READY_EXIT] = {"ready_exit", "ms", "run ms", ALLW, 0},
    [M_RSS] = {"mem_rss", "MiB", "RSS MiB", ALLW, 0},
    [M_PSS] = {"mem_pss", "MiB", "PSS MiB", ALLW, 0},
    [M_HOST] = {"host_used", "MiB", "host MiB", ALLW, 1},
    [M_WALL] = {"batch_wall", "ms", "batch ms", ALLW, 1},
};

/* The figures of each workload, the first one the headline; each is one metric. */
#define MAXFIGS 8
static const enum metric wfigs[NWORKLOADS][MAXFIGS] = {
    [W_CPU] = {M_TOTAL_TIME, M_EVENTS_PER_S, M_LAT_AVG, M_LAT_P95, M_LAT_MAX, M_PSS, M_HOST,
	       NMETRICS},
    [W_FILEIO] = {M_RW_PER_S, M_READS_PER_S, M_WRITES_PER_S, M_LAT_AVG, M_LAT_P95, M_PSS, M_HOST,
		  NMETRICS},
    [W_OLTP] = {M_TPS, M_QREADS_PER_S, M_QWRITES_PER_S, M_LAT_AVG, M_LAT_P95, M_PSS, M_HOST,
		NMETRICS},
};

static size_t nfigs(enum workload w)
{
	size_t n = 0;
	while (n < MAXFIGS && wfigs[w][n] != NMETRICS)
		n++;
	return n;
}

static const char *metric_title(enum metric m)
{
	switch (m) {
	case M_TOTAL_TIME:
		return "Total time per guest";
	case M_EVENTS_PER_S:
		return "Events per second per guest";
	case M_LAT_AVG:
		return "Average latency per request";
	case M_LAT_P95:
		return "95th percentile latency per request";
	case M_LAT_MAX:
		return "Maximum latency per request";
	case M_RW_PER_S:
		return "Reads + writes per second per guest";
	case M_READS_PER_S:
		return "Reads per second per guest";
	case M_WRITES_PER_S:
		return "Writes per second per guest";
	case M_TPS:
		return "Transactions per second per guest";
	case M_QREADS_PER_S:
		return "Read queries per second per guest";
	case M_QWRITES_PER_S:
		return "Write queries per second per guest";
	case M_PSS:
		return "Memory per guest (PSS of the runtime and the guest's processes)";
	case M_HOST:
		return "Host memory used by the batch";
	default:
		return mdefs[m].name;
	}
}

static const char *metric_what(enum metric m)
{
	switch (m) {
	case M_TOTAL_TIME:
		return "sysbench's `total time` in each guest: how long its fixed number of "
		       "events took, all guests running at once. Lower is better.";
	case M_EVENTS_PER_S:
		return "sysbench's events per second in each guest. Higher is better.";
	case M_LAT_AVG:
	case M_LAT_P95:
	case M_LAT_MAX:
		return "sysbench's per-request latency in each guest (its `Latency (ms)` block), "
		       "the study's per-request tables. Lower is better.";
	case M_RW_PER_S:
		return "sysbench's reads/s + writes/s in each guest: sysbench 1.0 counts fsyncs as "
		       "events, 0.4.12 did not, so events are not comparable with the study and "
		       "reads + writes are. Higher is better.";
	case M_READS_PER_S:
	case M_WRITES_PER_S:
		return "sysbench's reads/s or writes/s in each guest. Higher is better.";
	case M_TPS:
		return "sysbench oltp_read_write's transactions per second in each guest (6 "
		       "threads against the guest's own MariaDB). Higher is better.";
	case M_QREADS_PER_S:
	case M_QWRITES_PER_S:
		return "The read or write queries sysbench performed in each guest, divided by its "
		       "total time. Higher is better.";
	case M_PSS:
		return "The peak, over samples every 500 ms from the release to the last exit, of "
		       "the sum of Pss (smaps_rollup: each shared page divided among the processes "
		       "that map it) over the guest's launcher (the runtime, or the chroot's "
		       "shell) "
		       "and all its descendants. The page cache is not in it (see host memory). "
		       "The study had no memory figures.";
	case M_HOST:
		return "One value per batch: the peak of the host's MemTotal - MemAvailable while "
		       "the workload ran, over its value just before the first guest started; it "
		       "includes the guests' page cache and kernel memory, and whatever else the "
		       "host did meanwhile. The study had no memory figures.";
	default:
		return "";
	}
}

/* ---- the run ------------------------------------------------------------------------------ */

struct run {
	struct mb_exp x; /* its cells' slots are the metrics */
	enum workload w;
	const struct sizes *z;
	unsigned most; /* the largest guest count */
	unsigned mounted;
	struct mb_engine docker, podman; /* the engines' backends: one image of rootfs each */
	char native_cg[96], what[32], tag[192];
	char script[8192], setup[2048], cmd[2048], down[2048];
	char rootfs[PATH_MAX], guests[PATH_MAX + 16], bundles[PATH_MAX + 16], mbdir[PATH_MAX + 16],
	    log[PATH_MAX + 16], tmpl[PATH_MAX + 16];
	/* vm, qemu (vmguest.h): the images, the guests' script, OLTP's data disk's files */
	bool vms;
	struct mb_vm_spec vm;
	char vmscript[8192], vmstage[PATH_MAX + 16];
};

int mb_rootfs_find(char *dir, size_t size, mc_err *err)
{
	const char *co = mb_checkout_dir();
	mb_images_env("MINIVM_ROOTFS_DIR", dir, size);
	/* else where scripts/rootfs.sh builds it */
	if (!dir[0] && co && !strchr(co, '\'')) {
		char cmd[PATH_MAX + 64], line[PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "'%s/scripts/rootfs.sh' path 2>/dev/null", co);
		FILE *p = popen(cmd, "r");
		if (p) {
			if (fgets(line, sizeof(line), p) && line[0] == '/') {
				line[strcspn(line, "\n")] = 0;
				snprintf(dir, size, "%s/root", line);
			}
			while (fgets(line, sizeof(line), p))
				;
			pclose(p);
		}
	}
	if (!dir[0])
		return mc_errorf(err, 0,
				 "density: the benchmark root filesystem is not built (make "
				 "images, or set MINIVM_ROOTFS_DIR)");
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof(probe), "%s/usr/bin/sysbench", dir);
	if (access(probe, X_OK) < 0)
		return mc_errorf(err, 0,
				 "density: no sysbench in the root filesystem `%s` (make images "
				 "builds it)",
				 dir);
	return 0;
}

static int find_workload(const char *name, mc_err *err)
{
	if (!name)
		return W_CPU;
	for (int i = 0; i < NWORKLOADS; i++)
		if (strcmp(name, wnames[i]) == 0)
			return i;
	return mc_errorf(err, 0, "unknown workload `%s` for density (known: cpu, fileio, oltp)",
			 name);
}

int mb_density_check(const struct mb_opts *o, mc_err *err)
{
	int w = find_workload(o->workload, err);
	if (w < 0)
		return -1;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		enum mb_backend b = o->backend[bi];
		if ((b == MB_VM || b == MB_QEMU) && mb_vm_images_check(err) < 0)
			return mc_wrap(err, "backend %s", mb_backend_name(b));
		struct mb_launcher l;
		if (mb_backend_prepare(b, NULL, &l, err) < 0)
			return -1;
	}
	char dir[PATH_MAX];
	if (mb_rootfs_find(dir, sizeof(dir), err) < 0)
		return -1;
	if (w == W_OLTP) {
		char probe[PATH_MAX + 32];
		snprintf(probe, sizeof(probe), "%s/usr/sbin/mariadbd", dir);
		if (access(probe, X_OK) < 0)
			return mc_errorf(err, 0,
					 "density: no mariadbd in the root filesystem `%s` (make "
					 "images builds it)",
					 dir);
	}
	return 0;
}

/* ---- the guests' roots: an overlay per guest over the shared rootfs ----------------------
 *
 * Guest K of every backend runs in WORK/guests/gK/root: an overlay of the benchmark rootfs
 * (read-only lower, never written) with WORK/guests/gK/upper, so every guest and backend sees
 * the same tree and writes only its own files (its /data: fileio's files, MariaDB's data).
 * WORK/mb (the barrier's FIFOs) is bind-mounted at /mb. The mounts live in minibench's own
 * mount namespace, so they go away with it whatever happens. */

static int mount_guest(struct run *r, unsigned k, mc_err *err)
{
	char d[PATH_MAX + 64], up[PATH_MAX + 128], wk[PATH_MAX + 128], root[PATH_MAX + 128],
	    opts[3 * PATH_MAX + 512], p[PATH_MAX + 160];
	snprintf(d, sizeof(d), "%s/g%u", r->guests, k);
	snprintf(up, sizeof(up), "%s/upper", d);
	snprintf(wk, sizeof(wk), "%s/ovl", d);
	snprintf(root, sizeof(root), "%s/root", d);
	if (mc_mkdir_p(up, 0755, err) < 0 || mc_mkdir_p(wk, 0755, err) < 0 ||
	    mc_mkdir_p(root, 0755, err) < 0)
		return mc_wrap(err, "guest %u", k);
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", r->rootfs, up, wk);
	if (mount("overlay", root, "overlay", 0, opts) < 0)
		return mc_errorf(err, errno, "guest %u: mount an overlay of `%s` at `%s`", k,
				 r->rootfs, root);
	r->mounted = k + 1;
	snprintf(p, sizeof(p), "%s/mb", root);
	if (mc_mkdir_p(p, 0755, err) < 0)
		return -1;
	if (mount(r->mbdir, p, NULL, MS_BIND, NULL) < 0)
		return mc_errorf(err, errno, "guest %u: bind `%s` at `%s`", k, r->mbdir, p);
	snprintf(p, sizeof(p), "%s/data", root);
	if (mc_mkdir_p(p, 0755, err) < 0)
		return -1;
	/* MariaDB (mariadb-install-db) needs localhost; debootstrap writes no /etc/hosts */
	snprintf(p, sizeof(p), "%s/etc/hosts", root);
	if (mb_write_text(p, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n", 0644, err) < 0)
		return -1;
	return 0;
}

static void unmount_guests(struct run *r)
{
	char p[PATH_MAX + 96];
	for (unsigned k = 0; k < r->mounted; k++) {
		snprintf(p, sizeof(p), "%s/g%u/root/mb", r->guests, k);
		umount2(p, MNT_DETACH);
		snprintf(p, sizeof(p), "%s/g%u/root", r->guests, k);
		umount2(p, MNT_DETACH);
	}
	r->mounted = 0;
}

/* Run argv, output to the guests' log; fails with its last line. */
static int run_cmd(struct run *r, char *const *argv, mc_err *err)
{
	return mb_run_cmd(argv, r->log, err);
}

/* Run a script in guest 0's root by chroot, with /proc and /dev, untimed: the OLTP table. */
static int chroot_script(struct run *r, const char *script, mc_err *err)
{
	char root[PATH_MAX + 64];
	snprintf(root, sizeof(root), "%s/g0/root", r->guests);
	_cleanup_close_ int logfd = open(r->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return mc_errorf(err, errno, "open `%s`", r->log);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return mc_errorf(err, errno, "fork");
	if (pid == 0) {
		char p[PATH_MAX + 96];
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		snprintf(p, sizeof(p), "%s/proc", root);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("proc", p, "proc", 0, NULL) < 0) {
			dprintf(2, "mount /proc in %s: %s\n", root, strerror(errno));
			_exit(126);
		}
		snprintf(p, sizeof(p), "%s/dev", root);
		if (mount("/dev", p, NULL, MS_BIND | MS_REC, NULL) < 0 || chroot(root) < 0 ||
		    chdir("/") < 0) {
			dprintf(2, "chroot %s: %s\n", root, strerror(errno));
			_exit(126);
		}
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return mc_errorf(err, errno, "wait");
	if (st != 0) {
		char line[256];
		mb_last_line(r->log, line, sizeof(line));
		return mc_errorf(err, 0, "exited with status %d: %s",
				 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), line);
	}
	return 0;
}

/* OLTP: MariaDB's data directory with the sysbench table, made once (in guest 0, untimed)
 * and kept as WORK/oltp-template; every batch starts each guest from a fresh copy. */
static int oltp_template(struct run *r, mc_err *err)
{
	char script[4096], data[PATH_MAX + 64];
	snprintf(script, sizeof(script),
		 "set -e; rm -rf /data/mysql; mariadb-install-db --user=root --datadir=/data/mysql "
		 "--auth-root-authentication-method=normal --skip-test-db >/data/install.out 2>&1 "
		 "|| { tail -n 3 /data/install.out; exit 1; }; %s & m=$!; %s"
		 "mariadb --socket=" SOCK " -e 'CREATE DATABASE sbtest'; "
		 "sysbench oltp_read_write " MYSQL " --tables=1 --table-size=%u prepare "
		 ">/data/prepare.out 2>&1 || { tail -n 3 /data/prepare.out; exit 1; }; "
		 "mariadb-admin --socket=" SOCK " shutdown; wait",
		 MARIADBD, MARIADB_WAIT, r->z->oltp_rows);
	if (chroot_script(r, script, err) < 0)
		return mc_wrap(err, "density oltp: preparing the table (%u rows)", r->z->oltp_rows);
	snprintf(data, sizeof(data), "%s/g0/root/data/mysql", r->guests);
	mb_rm_tree(r->tmpl);
	char *const cp[] = {"/bin/cp", "-a", data, r->tmpl, NULL};
	return run_cmd(r, cp, err) < 0 ? mc_wrap(err, "density oltp: keep the table") : 0;
}

/* OLTP in a VM: the table's files for its data disk (mkfs.ext4 -d: WORK/vm-data/mysql). */
static int vm_stage(struct run *r, mc_err *err)
{
	char dst[PATH_MAX + 32];
	mb_rm_tree(r->vmstage);
	if (mc_mkdir_p(r->vmstage, 0755, err) < 0)
		return mc_wrap(err, "density oltp");
	snprintf(dst, sizeof(dst), "%s/mysql", r->vmstage);
	char *const cp[] = {"/bin/cp", "-a", r->tmpl, dst, NULL};
	return run_cmd(r, cp, err) < 0 ? mc_wrap(err, "density oltp: the VMs' table") : 0;
}

/* Drop a guest's fileio files from the host's page cache, so that no batch starts with
 * another's cache: the upper layer holds the real files. */
static void fileio_uncache(struct run *r, unsigned k)
{
	char dir[PATH_MAX + 64], path[PATH_MAX + 128];
	for (unsigned i = 0; i < r->z->fileio_files; i++) {
		snprintf(dir, sizeof(dir), "%s/g%u/upper/data/fileio", r->guests, k);
		snprintf(path, sizeof(path), "%s/test_file.%u", dir, i);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
}

/* Before each batch: no old output; fresh MariaDB data; fileio files out of the cache; the
 * native guests' cgroups (a new one per batch, like the containers'). */
static int before_batch(void *ctx, unsigned n, size_t bi, mc_err *err)
{
	struct run *r = ctx;
	bool native = r->x.o->backend[bi] == MB_NATIVE;
	bool vm = r->x.o->backend[bi] == MB_VM || r->x.o->backend[bi] == MB_QEMU;
	char p[PATH_MAX + 96];
	for (unsigned k = 0; k < n; k++) {
		if (vm &&
		    mb_vm_disks(&r->vm, k, r->w == W_OLTP ? r->vmstage : NULL, r->log, err) < 0)
			return -1;
		snprintf(p, sizeof(p), "%s/g%u/root/data/sysbench.out", r->guests, k);
		unlink(p);
		if (r->w == W_OLTP) {
			snprintf(p, sizeof(p), "%s/g%u/root/data/mysql", r->guests, k);
			char *const rm[] = {"/bin/rm", "-rf", "--one-file-system", p, NULL};
			char *const cp[] = {"/bin/cp", "-a", r->tmpl, p, NULL};
			if (run_cmd(r, rm, err) < 0 || run_cmd(r, cp, err) < 0)
				return mc_wrap(err, "guest %u: fresh MariaDB data", k);
		}
		if (r->w == W_FILEIO)
			fileio_uncache(r, k);
		if (native) {
			struct mb_limits lim = {MB_GUEST_CPUS,
						(unsigned long long)MB_GUEST_MEM_MIB << 20};
			snprintf(p, sizeof(p), "%s-g%u", r->native_cg, k);
			if (mb_cgroup_create(p, &lim, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* The guests' cgroups: native's are ours to remove; a runtime removes its own, and one it
 * left would hold the next batch's guest (an error). */
static void after_batch(void *ctx, unsigned n, mc_err *err)
{
	const struct run *r = ctx;
	char p[128];
	for (unsigned k = 0; k < n; k++) {
		snprintf(p, sizeof(p), "%s-g%u", r->native_cg, k);
		mb_cgroup_remove(p, err);
	}
}

static int sample(struct run *r, size_t gi, size_t bi, enum metric m, struct mb_record *rec,
		  int guest, double v, mc_err *err)
{
	return mb_exp_sample(&r->x, gi, bi, m, rec, mdefs[m].name, mdefs[m].unit, guest, v, err);
}

/* Guest k's values from its sysbench output and the batch. */
static int guest_values(struct run *r, unsigned k, const struct mb_batch *b, double *v, mc_err *err)
{
	char path[PATH_MAX + 96];
	snprintf(path, sizeof(path), "%s/g%u/root/data/sysbench.out", r->guests, k);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (mc_read_file(path, 1 << 20, &text, &len, err) < 0)
		return mc_wrap(err, "guest %u's sysbench output", k + 1);
	struct mb_sysbench s;
	if (mb_sysbench_parse(text, &s, err) < 0)
		return mc_wrap(err, "guest %u (%s)", k + 1, path);
	for (int m = 0; m < NMETRICS; m++)
		v[m] = NAN;
	v[M_TOTAL_TIME] = s.total_time_s;
	v[M_EVENTS_PER_S] = s.events_per_s;
	v[M_LAT_MIN] = s.lat_min_ms;
	v[M_LAT_AVG] = s.lat_avg_ms;
	v[M_LAT_MAX] = s.lat_max_ms;
	v[M_LAT_P95] = s.lat_p95_ms;
	v[M_READS_PER_S] = s.reads_per_s;
	v[M_WRITES_PER_S] = s.writes_per_s;
	v[M_RW_PER_S] = s.reads_per_s + s.writes_per_s;
	v[M_FSYNCS_PER_S] = s.fsyncs_per_s;
	v[M_TPS] = s.transactions_per_s;
	v[M_QPS] = s.queries_per_s;
	v[M_QREADS_PER_S] = s.queries_read / s.total_time_s;
	v[M_QWRITES_PER_S] = s.queries_write / s.total_time_s;
	v[M_START_READY] = b->t[k][MB_T_READY] - b->t[k][MB_T_START];
	v[M_READY_EXIT] = b->t[k][MB_T_EXIT] - b->t[k][MB_T_READY];
	v[M_RSS] = b->mem_samples ? b->rss_mib[k] : NAN;
	v[M_PSS] = b->mem_samples ? b->pss_mib[k] : NAN;
	return 0;
}

/* A timed batch's records: every guest's metrics of the workload (those it has), the host's
 * memory (when sampled) and the wall time. */
static int record(void *ctx, size_t gi, size_t bi, const struct mb_batch *b, struct mb_record *rec,
		  mc_err *err)
{
	struct run *r = ctx;
	for (unsigned k = 0; k < rec->guests; k++) {
		double v[NMETRICS];
		if (guest_values(r, k, b, v, err) < 0)
			return mc_wrap(err, "density %s, %s, %u guests", wnames[r->w], rec->backend,
				       rec->guests);
		for (int m = 0; m < NMETRICS; m++) {
			if (mdefs[m].per_batch || !(mdefs[m].workloads & WM(r->w)) ||
			    !isfinite(v[m]))
				continue;
			if (sample(r, gi, bi, (enum metric)m, rec, (int)k, v[m], err) < 0)
				return -1;
		}
	}
	if (b->mem_samples && sample(r, gi, bi, M_HOST, rec, -1, b->host_mib, err) < 0)
		return -1;
	return sample(r, gi, bi, M_WALL, rec, -1, b->wall_ms, err);
}

/* ---- the seed study beside ours ----------------------------------------------------------- */

/* A row per guest count of this run: each backend's median and its ratio to ref (NAN: the
 * study has no figure at this count). */
static void study_rows(FILE *f, const struct run *r, const struct mb_summary_row *rows,
		       double scale, double (*ref)(unsigned guests), const char *refname,
		       const char *unit)
{
	const struct mb_opts *o = r->x.o;
	fprintf(f, "\n\n| guests | %s |", refname);
	for (size_t bi = 0; bi < o->nbackends; bi++)
		fprintf(f, " %s (x study) |", mb_backend_name(o->backend[bi]));
	fprintf(f, "\n|--:|--:|");
	for (size_t bi = 0; bi < o->nbackends; bi++)
		fprintf(f, "--:|");
	for (size_t gi = 0; gi < o->nguests; gi++) {
		double s = ref(o->guests[gi]);
		if (isfinite(s))
			fprintf(f, "\n| %u | %.2f %s |", o->guests[gi], s, unit);
		else
			fprintf(f, "\n| %u | (not measured) |", o->guests[gi]);
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			double med = rows[gi * o->nbackends + bi].st.median * scale;
			if (isfinite(s) && s > 0)
				fprintf(f, " %.2f %s (%.2f) |", med, unit, med / s);
			else
				fprintf(f, " %.2f %s |", med, unit);
		}
	}
}

/* The study's figures: native at 1 guest; 8 containers where it gives them. */
static double cpu_total(unsigned g)
{
	return g == 1 ? 35.94 : g == 8 ? 42.05 : NAN;
}
static double cpu_avg(unsigned g)
{
	return g == 1 ? 3.59 : g == 8 ? 4.45 : NAN;
}
static double cpu_p95(unsigned g)
{
	return g == 1 ? 3.62 : NAN;
}
static double cpu_max(unsigned g)
{
	return g == 1 ? 9.07 : NAN;
}
/* native: 20912 reads + 13941 writes in 300 s */
static double fio_rw(unsigned g)
{
	return g == 1 ? (20912.0 + 13941.0) / 300.0 : NAN;
}
static double fio_reads(unsigned g)
{
	return g == 1 ? 20912.0 / 300.0 : NAN;
}
static double fio_writes(unsigned g)
{
	return g == 1 ? 13941.0 / 300.0 : NAN;
}
/* 8 containers: ~30.5 transactions/s */
static double oltp_tps(unsigned g)
{
	return g == 8 ? 30.5 : NAN;
}

/* What the study says beside figure fi, into f; false: nothing. */
static bool study_text(void *ctx, size_t fi, const struct mb_summary_row *rows, FILE *f)
{
	const struct run *r = ctx;
	enum metric m = wfigs[r->w][fi];
	const char *where = "Another machine (i7-4770, 5400 rpm HDD, kernel 4.4, 2016), sysbench "
			    "0.4.12 and Ubuntu 14.04 against sysbench 1.0.20 on Debian bookworm "
			    "here: compare ratios and trends with the guest count, not digits.";
	if (r->w == W_CPU && m == M_TOTAL_TIME) {
		fprintf(
		    f,
		    "The study ran 10,000 events (0.4.12's default) per guest: native 35.94 s "
		    "at 1, 8 containers 42.05 s and 8 VMs about 7.06 s more than 1 VM. This run "
		    "did %u events per guest, so its medians are scaled to 10,000 events (x "
		    "%.2f) below. %s",
		    r->z->cpu_events, 10000.0 / r->z->cpu_events, where);
		study_rows(f, r, rows, 10000.0 / r->z->cpu_events, cpu_total,
			   "study (1: native, 8: containers)", "s");
	} else if (r->w == W_CPU && m == M_LAT_AVG) {
		fprintf(
		    f,
		    "The study's per request: native min 3.58 / avg 3.59 / max 9.07 / p95 ~3.62 "
		    "ms; at 8 guests min ~3.67 and avg ~4.45 ms for VMs and containers alike, "
		    "containers' max about half the VMs'. %s",
		    where);
		study_rows(f, r, rows, 1, cpu_avg, "study avg (1: native, 8: both)", "ms");
	} else if (r->w == W_CPU && m == M_LAT_P95) {
		fprintf(f, "The study's native p95 was ~3.62 ms. %s", where);
		study_rows(f, r, rows, 1, cpu_p95, "study p95 (native)", "ms");
	} else if (r->w == W_CPU && m == M_LAT_MAX) {
		fprintf(f, "The study's native max was 9.07 ms; at 8 guests the containers' max "
			   "was about half the VMs'.");
		study_rows(f, r, rows, 1, cpu_max, "study max (native)", "ms");
	} else if (r->w == W_FILEIO &&
		   (m == M_RW_PER_S || m == M_READS_PER_S || m == M_WRITES_PER_S)) {
		fprintf(
		    f,
		    "The study's native rndrw run did 20912 reads and 13941 writes in 300 s "
		    "(69.7 + 46.5 per s) on a 5400 rpm disk with 80 GB of files (10x RAM); VMs "
		    "lost about half their events at 8 guests, and at 8 guests containers did ~6x "
		    "the requests per second of VMs (512 vs 77 Kb/s). This run's files are %s per "
		    "guest on this host's disk, evicted from the page cache before every batch, "
		    "and each guest's cache is bounded by its %u MiB: with files smaller than that "
		    "(--quick) reads come mostly from memory. %s",
		    r->z->fileio_total, MB_GUEST_MEM_MIB, where);
		study_rows(f, r, rows, 1,
			   m == M_RW_PER_S	? fio_rw
			   : m == M_READS_PER_S ? fio_reads
						: fio_writes,
			   "study (native)", "/s");
	} else if (r->w == W_OLTP && m == M_TPS) {
		fprintf(f,
			"The study (MySQL 5.7, 1,000,000 rows, 6 threads, 60 s): at 8 guests ~30.5 "
			"transactions/s in containers against ~2.5 in VMs, 27x the reads and 14x "
			"the writes. This run: MariaDB from the rootfs in every guest, %u rows, %u "
			"s, a 64 MiB buffer pool. %s",
			r->z->oltp_rows, r->z->oltp_secs, where);
		study_rows(f, r, rows, 1, oltp_tps, "study (8 containers)", "/s");
	} else if (r->w == W_OLTP && m == M_LAT_AVG) {
		fprintf(f,
			"The study's 8 VMs per request: min 369.76, avg 3472.17, max 4918.05, "
			"p95 ~3872.24 ms (its container table is a copy of the VMs'). %s",
			where);
	} else if (m == M_PSS || m == M_HOST) {
		fprintf(f, "The study had no memory figures; this is one of the things it left "
			   "open (memory per guest at each density).");
	} else {
		return false;
	}
	return true;
}

/* ---- the summary -------------------------------------------------------------------------- */

/* The table's first lines: the method. */
static void intro(void *ctx, FILE *t)
{
	const struct run *r = ctx;
	const struct mb_opts *o = r->x.o;
	fprintf(t,
		"density %s: `%s` in N guests at once (%u CPU, %u MiB each), held at a barrier "
		"until all are up, released together; the benchmark rootfs (%s); %u timed run%s "
		"per backend and guest count, backends interleaved\n",
		wnames[r->w], r->cmd, MB_GUEST_CPUS, MB_GUEST_MEM_MIB, r->rootfs, o->repeat,
		o->repeat == 1 ? "" : "s");
	fprintf(t,
		"per guest, medians over guests x runs (host MiB: per batch); %s: min and max "
		"beside the median\n",
		mdefs[wfigs[r->w][0]].label);
}

static const char *const ratio_bases[] = {"crun", "runc", NULL};

/* The table: the first figure's min and max, every figure's median (the first's ratio last). */
static int summarize(struct run *r, mc_err *err)
{
	size_t nf = nfigs(r->w);
	struct mb_exp_fig figs[MAXFIGS];
	struct mb_exp_col cols[2 + MAXFIGS] = {{"min", 10, 0, MB_STAT_MIN},
					       {"max", 10, 0, MB_STAT_MAX}};
	char names[MAXFIGS][64], heading[64];
	for (size_t fi = 0; fi < nf; fi++) {
		enum metric m = wfigs[r->w][fi];
		snprintf(names[fi], sizeof(names[fi]), "density-%s-%s", wnames[r->w],
			 mdefs[m].name);
		figs[fi] = (struct mb_exp_fig){names[fi],	mdefs[m].name,	mdefs[m].unit,
					       metric_title(m), metric_what(m), m};
		cols[2 + fi] = (struct mb_exp_col){mdefs[m].label, 10, fi, MB_STAT_MEDIAN};
	}
	snprintf(heading, sizeof(heading), "minibench density: %s", wnames[r->w]);
	const struct mb_exp_summary s = {
	    .bases = ratio_bases,
	    .figs = figs,
	    .nfigs = nf,
	    /* backend_width 0: 8 unless a longer name ran (docker-minict) */
	    .cols = cols,
	    .ncols = 2 + nf,
	    .ratio_indent = 2,
	    .ratio_width = 5,
	    .intro = intro,
	    .study = study_text,
	    .heading = heading,
	    .record_part = wnames[r->w],
	    .record_what = wnames[r->w],
	};
	return mb_exp_summarize(&r->x, &s, err);
}

static int density(struct run *r, const char *workdir, mc_err *err)
{
	struct mb_exp *x = &r->x;
	if (mb_exp_prepare(x, workdir, err) < 0 ||
	    mb_rootfs_find(r->rootfs, sizeof(r->rootfs), err) < 0)
		return -1;
	snprintf(r->guests, sizeof(r->guests), "%s/guests", x->work);
	snprintf(r->bundles, sizeof(r->bundles), "%s/bundle", x->work);
	snprintf(r->mbdir, sizeof(r->mbdir), "%s/mb", x->work);
	snprintf(r->log, sizeof(r->log), "%s/guests.log", x->work);
	snprintf(r->tmpl, sizeof(r->tmpl), "%s/oltp-template", x->work);
	/* every guest K's cgroup, whatever the backend: /minibench-PID-gK directly under each
	 * hierarchy's root, so that all compete for the CPU at the same level */
	snprintf(r->native_cg, sizeof(r->native_cg), "minibench-%d", (int)getpid());
	/* our own mount namespace: the overlays vanish with minibench, whatever happens */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return mc_errorf(err, errno, "density: a private mount namespace");
	/* a previous run's guests (--out keeps WORK): start from empty upper layers */
	mb_rm_tree(r->guests);
	if (mb_barrier_make(x->work, err) < 0)
		return -1;
	r->most = mb_exp_most_guests(x->o);
	workload_cmds(r->w, r->z, r->setup, r->cmd, r->down, sizeof(r->setup));
	snprintf(r->script, sizeof(r->script),
		 "cd /data || exit 1; %s echo a $0 >/mb/events; read x </mb/go; %s "
		 ">/data/sysbench.out 2>&1; s=$?; echo e $0 >/mb/events; %s"
		 "[ $s = 0 ] || tail -n 3 /data/sysbench.out >&2; exit $s",
		 r->setup, r->cmd, r->down);
	for (size_t bi = 0; bi < x->o->nbackends; bi++)
		r->vms |= x->o->backend[bi] == MB_VM || x->o->backend[bi] == MB_QEMU;
	if (r->vms) {
		/* the same commands in a VM: own data disk, script on stdin (vmguest.h) */
		if (mb_vm_prepare(&r->vm, r->vmscript, sizeof(r->vmscript), r->setup, r->cmd,
				  r->down, r->guests, "root/data/sysbench.out", r->mbdir, err) < 0)
			return mc_wrap(err, "density");
		x->spec.vm = &r->vm;
		snprintf(r->vmstage, sizeof(r->vmstage), "%s/vm-data", x->work);
	}
	for (unsigned k = 0; k < r->most; k++) {
		if (mount_guest(r, k, err) < 0)
			return mc_wrap(err, "density");
		char dir[PATH_MAX + 64], root[PATH_MAX + 64], idx[16], cg[128];
		snprintf(idx, sizeof(idx), "%u", k);
		snprintf(cg, sizeof(cg), "/%s-g%u", r->native_cg, k);
		snprintf(dir, sizeof(dir), "%s/g%u", r->bundles, k);
		snprintf(root, sizeof(root), "%s/g%u/root", r->guests, k);
		char *args[] = {"/bin/sh", "-c", r->script, idx, NULL};
		struct mb_bundle_opts bo = {
		    .rootfs = root,
		    .args = args,
		    .writable = true,
		    .cpus = MB_GUEST_CPUS,
		    .mem_bytes = (unsigned long long)MB_GUEST_MEM_MIB << 20,
		    .bind_src = r->mbdir,
		    .bind_dst = "/mb",
		    .cgroups_path = cg,
		};
		if (mb_bundle_write(dir, &bo, err) < 0)
			return -1;
	}
	static char *const no_argv[] = {NULL};
	x->spec.bundles = r->bundles;
	x->spec.rootfs = r->rootfs;
	x->spec.mbdir = r->mbdir;
	x->spec.argv = no_argv;
	x->spec.log = r->log;
	x->spec.script = r->script;
	x->spec.roots = r->guests;
	x->spec.native_cgroup = r->native_cg;
	x->spec.mem_sample = true;
	x->spec.cpus = MB_GUEST_CPUS;
	x->spec.mem_bytes = (unsigned long long)MB_GUEST_MEM_MIB << 20;
	x->spec.nofile = MB_GUEST_NOFILE;
	/* docker, podman: the rootfs imported once (a tar stream, tagged by its content key) on
	 * overlay storage; they run in this mount namespace, so each container gets its guest's
	 * overlay /data and the barrier like the other backends */
	char key[128];
	mb_engine_rootfs_key(r->rootfs, key, sizeof(key));
	snprintf(r->tag, sizeof(r->tag), "minibench-rootfs:%s", key);
	const struct mb_engine_opts eo = {.rootfs = r->rootfs, .tag = r->tag, .overlay = true};
	if (mb_exp_cells(x, NMETRICS, err) < 0 || (r->w == W_OLTP && oltp_template(r, err) < 0) ||
	    (r->w == W_OLTP && r->vms && vm_stage(r, err) < 0) ||
	    mb_exp_engines_start(x, &r->docker, &r->podman, &eo, err) < 0 || mb_exp_run(x, err) < 0)
		return -1;
	/* the engines go before the report: their clean-up can fail the run */
	if (mb_engine_stop(&r->docker, err) < 0 || mb_engine_stop(&r->podman, err) < 0)
		return -1;
	return summarize(r, err);
}

int mb_density(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return mc_errorf(err, ENOMEM, "density");
	r->x.o = o;
	r->x.res = res;
	r->x.experiment = "density";
	r->x.what = r->what;
	r->x.ctx = r;
	r->x.before = before_batch;
	r->x.after = after_batch;
	r->x.record = record;
	int w = find_workload(o->workload, err);
	int rc = -1;
	if (w >= 0) {
		r->w = (enum workload)w;
		r->x.workload = wnames[w];
		snprintf(r->what, sizeof(r->what), "density %s", wnames[w]);
		r->z = o->quick ? &quick_sizes : &full_sizes;
		rc = density(r, workdir, err);
	}
	/* on failure too: the engines leave nothing behind (before the overlays they use go) */
	rc = mb_exp_engines_stop(&r->docker, &r->podman, rc, err);
	unmount_guests(r);
	/* native cgroups a failed batch may have left */
	for (unsigned k = 0; k < r->most && r->native_cg[0]; k++) {
		char p[128];
		mc_err cerr = NULL;
		snprintf(p, sizeof(p), "%s-g%u", r->native_cg, k);
		mb_cgroup_remove(p, &cerr);
		mc_error_free(&cerr);
	}
	mb_exp_free(&r->x);
	free(r);
	return rc;
}
