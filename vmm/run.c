/* minivm run: options, then create the VM, load the kernel, run, report. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "api.h"
#include "boot/boot.h"
#include "cmds.h"
#include "console.h"
#include "dirty.h"
#include "hw/hw.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "mig_disk.h"
#include "migrate.h"
#include "postcopy.h"
#include "snapshot.h"
#include "timings.h"
#include "util.h"
#include "vm.h"

#define MEM_MIN	  (16ull << 20)
#define MAX_DISKS 16
#define MAX_NETS  8

static const char usage[] =
    "usage: minivm run --kernel PATH [--initrd PATH] [--cmdline STR] [--cpus N] [--mem SIZE]\n"
    "                  [--console none|stdio|stderr|file:PATH] [--console-log FILE] [--verbose]\n"
    "                  [-t] [--pit|--no-pit] [--timings json]\n"
    "                  [--disk PATH[,ro][,direct][,engine=uring|threads]]...\n"
    "                  [--net tap=NAME[,mac=MAC][,vhost=on]]...\n"
    "                  [--env NAME=VALUE]... [--env-file FILE]... [--api PATH] [-- CMD ARGS...]\n"
    "       minivm run --restore DIR [--console ...] [--api PATH]\n"
    "       minivm run --incoming tcp:ADDR:PORT|unix:PATH|fd:N [--console ...] [--api PATH]\n"
    "       (all three: [--dirty-track log|ring])\n"
    "  --kernel    bzImage (64-bit boot protocol) or ELF vmlinux (PVH entry)\n"
    "  --cmdline   replaces the default `" BOOT_DEFAULT_CMDLINE "`\n"
    "  --cpus      1 to "
    "64"
    " vCPUs (default 1)\n"
    "  --mem       guest RAM, e.g. 256M or 2G (default 256M, rounded up to 2 MiB)\n"
    "  --pit       give the guest an in-kernel 8254 PIT (default: none; Linux times itself\n"
    "              with kvm-clock and the local APIC's TSC-deadline timer)\n"
    "  --timings json  milestones on stderr at the end; waits for `gone` (every KVM object\n"
    "              released) to report it, where otherwise a helper releases the VM after exit\n"
    "  --env       set NAME=VALUE in the guest command's environment (repeatable; in order,\n"
    "              with --env-file, the last one of a NAME wins)\n"
    "  --env-file  one NAME=VALUE a line, taken verbatim (no quotes, no trimming; a trailing\n"
    "              \\r is dropped); empty lines and lines starting with # are ignored\n"
    "  -- CMD      what the guest's init (guestinit) runs, with exactly these arguments (any\n"
    "              bytes but NUL); CMD and the environment need --initrd: they travel in a\n"
    "              small archive appended to it, not on the kernel command line. Its stdin,\n"
    "              stdout and stderr are minivm's, byte for byte (a virtio-console port\n"
    "              each); the serial console (the kernel's messages) then goes to\n"
    "              --console-log FILE, stderr with --verbose, or nowhere\n"
    "  -t          give the command a terminal (the guest's hvc0, stdout and stderr both on\n"
    "              it): the host's in raw mode, its size followed on SIGWINCH\n"
    "  --console-log FILE  the serial console (kernel messages) into FILE\n"
    "  --verbose   with a command, the serial console on stderr\n"
    "  --restore   resume the guest saved in snapshot DIR (docs/snapshot.md): its vCPUs,\n"
    "              memory (mapped lazily from DIR/memory), devices; no kernel is loaded\n"
    "  --incoming  wait on URI for a live migration (docs/migration.md) and run the guest it\n"
    "              brings: tcp:ADDR:PORT (PORT 0: any, said on stderr), unix:PATH, fd:N\n"
    "  --dirty-track  how a live migration of this VM finds the pages the guest wrote: KVM's\n"
    "              dirty bitmap (log, the default) or per-vCPU dirty rings (ring: set up\n"
    "              with the VM; docs/migration.md)\n"
    "  --api       serve the control API on Unix socket PATH (docs/api.md): status, pause,\n"
    "              resume, snapshot, stop (`minivm status --api PATH`...)\n"
    "  --disk      a raw image (file or block device) as a virtio-blk disk, repeatable (the\n"
    "              first is /dev/vda); ro: read-only; direct: O_DIRECT, no host page cache;\n"
    "              engine: io_uring (default where the kernel allows it) or a thread pool\n"
    "  --net       a virtio-net card on host tap NAME, repeatable (the first is eth0): a\n"
    "              missing tap is created (up, no address) and goes away with minivm, an\n"
    "              existing one is used as it is; mac: default 52:54 and a hash of NAME;\n"
    "              vhost=on: the data path in the kernel's vhost-net (/dev/vhost-net)\n"
    "Signals: SIGINT/SIGTERM stop the VM; SIGUSR2 pauses it (every vCPU parked, devices\n"
    "quiesced) or resumes it, and logs how long that took.\n"
    "Exit status: the guest command's, 0 after a plain poweroff, 125 when minivm fails.\n";

struct run_opts {
	struct boot_config boot;
	uint64_t ncpus, mem;
	const char *console;
	const char *restore, *api;
	const char *incoming; /* --incoming URI: the guest comes from a live migration */
	bool timings_json, pit, geometry_set;
	enum dirty_track track;
	bool tty, tty_set, verbose, console_set;
	const char *console_log;
	size_t env_cap;
	struct blk_disk disks[MAX_DISKS];
	unsigned ndisks;
	struct virtio_net_conf nets[MAX_NETS];
	unsigned nnets;
};

static int env_push(struct run_opts *o, const char *kv, size_t len, mc_err *err)
{
	if (o->boot.nenv == o->env_cap) {
		size_t cap = o->env_cap ? 2 * o->env_cap : 16;
		char **v = realloc(o->boot.env, cap * sizeof(*v));
		if (!v)
			return mc_errorf(err, 0, "out of memory");
		o->boot.env = v;
		o->env_cap = cap;
	}
	char *e = strndup(kv, len);
	if (!e)
		return mc_errorf(err, 0, "out of memory");
	o->boot.env[o->boot.nenv++] = e;
	return 0;
}

static bool env_valid(const char *kv, size_t len)
{
	const char *eq = memchr(kv, '=', len);
	return eq && eq != kv;
}

static void env_free(struct run_opts *o)
{
	for (size_t i = 0; i < o->boot.nenv; i++)
		free(o->boot.env[i]);
	free(o->boot.env);
	o->boot.env = NULL;
	o->boot.nenv = o->env_cap = 0;
}

#define ENV_FILE_MAX (64u << 20)

/* docker's --env-file: NAME=VALUE a line, verbatim; empty lines and `#` lines skipped. Unlike
 * docker, a line without `=` is an error rather than a copy of the host's variable. */
static int env_file(struct run_opts *o, const char *path, mc_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	if (mc_read_file(path, ENV_FILE_MAX, &buf, &len, err) < 0)
		return mc_wrap(err, "--env-file");
	int r = 0;
	if (memchr(buf, '\0', len)) {
		r = mc_errorf(err, 0, "--env-file `%s` holds a NUL byte", path);
		goto done;
	}
	size_t lineno = 0;
	for (char *p = buf; p < buf + len;) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
		char *next = p + l + (nl ? 1 : 0);
		lineno++;
		if (l && p[l - 1] == '\r')
			l--;
		if (l && p[0] != '#') {
			if (!env_valid(p, l)) {
				r = mc_errorf(err, 0,
					      "--env-file `%s` line %zu: `%.*s` is not NAME=VALUE",
					      path, lineno, (int)(l > 80 ? 80 : l), p);
				goto done;
			}
			if ((r = env_push(o, p, l, err)) < 0)
				goto done;
		}
		p = next;
	}
done:
	free(buf);
	return r;
}

static int parse(int argc, char **argv, struct run_opts *o, mc_err *err)
{
	/* one option a line */
	/* clang-format off */
	static const struct option opts[] = {{"kernel", required_argument, NULL, 'k'},
					     {"initrd", required_argument, NULL, 'i'},
					     {"cmdline", required_argument, NULL, 'c'},
					     {"cpus", required_argument, NULL, 'n'},
					     {"mem", required_argument, NULL, 'm'},
					     {"console", required_argument, NULL, 'C'},
					     {"timings", required_argument, NULL, 'J'},
					     {"pit", no_argument, NULL, 'p'},
					     {"no-pit", no_argument, NULL, 'P'},
					     {"env", required_argument, NULL, 'e'},
					     {"env-file", required_argument, NULL, 'E'},
					     {"disk", required_argument, NULL, 'D'},
					     {"net", required_argument, NULL, 'N'},
					     {"restore", required_argument, NULL, 'R'},
					     {"api", required_argument, NULL, 'A'},
					     {"incoming", required_argument, NULL, 'I'},
					     {"dirty-track", required_argument, NULL, 'Y'},
					     {"tty", no_argument, NULL, 'T'},
					     {"console-log", required_argument, NULL, 'L'},
					     {"verbose", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	/* clang-format on */
	*o = (struct run_opts){.ncpus = 1, .mem = 256ull << 20, .console = "stdio"};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:ht", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->boot.kernel = optarg;
			break;
		case 'i':
			o->boot.initrd = optarg;
			break;
		case 'c':
			o->boot.cmdline = optarg;
			break;
		case 'n':
			if (mc_parse_uint(optarg, 1, VM_MAX_CPUS, &o->ncpus, "--cpus", err) < 0)
				return -1;
			o->geometry_set = true;
			break;
		case 'm':
			if (mc_parse_size(optarg, &o->mem, err) < 0)
				return mc_wrap(err, "--mem");
			o->geometry_set = true;
			break;
		case 'C':
			o->console = optarg;
			o->console_set = true;
			break;
		case 't':
		case 'T':
			o->tty = o->tty_set = true;
			break;
		case 'L':
			o->console_log = optarg;
			break;
		case 'V':
			o->verbose = true;
			break;
		case 'J':
			if (strcmp(optarg, "json") != 0)
				return mc_errorf(err, 0, "--timings `%s`: only `json` is supported",
						 optarg);
			o->timings_json = true;
			break;
		case 'e':
			if (!env_valid(optarg, strlen(optarg)))
				return mc_errorf(err, 0, "--env `%s`: expected NAME=VALUE", optarg);
			if (env_push(o, optarg, strlen(optarg), err) < 0)
				return -1;
			break;
		case 'E':
			if (env_file(o, optarg, err) < 0)
				return -1;
			break;
		case 'D':
			if (o->ndisks == MAX_DISKS)
				return mc_errorf(err, 0, "more than %d --disk", MAX_DISKS);
			if (virtio_blk_parse(optarg, &o->disks[o->ndisks], err) < 0 ||
			    virtio_blk_check(&o->disks[o->ndisks], err) < 0)
				return -1;
			o->ndisks++;
			break;
		case 'N':
			if (o->nnets == MAX_NETS)
				return mc_errorf(err, 0, "more than %d --net", MAX_NETS);
			if (virtio_net_parse(optarg, &o->nets[o->nnets], err) < 0)
				return -1;
			for (unsigned k = 0; k < o->nnets; k++)
				if (strcmp(o->nets[k].tap, o->nets[o->nnets].tap) == 0)
					return mc_errorf(err, 0, "--net: tap `%s` given twice",
							 o->nets[k].tap);
			o->nnets++;
			break;
		case 'p':
		case 'P':
			o->pit = c == 'p';
			o->geometry_set = true;
			break;
		case 'R':
			o->restore = optarg;
			break;
		case 'I':
			o->incoming = optarg;
			break;
		case 'Y':
			if (dirty_track_parse(optarg, &o->track, err) < 0)
				return mc_wrap(err, "--dirty-track");
			break;
		case 'A':
			o->api = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			return mc_errorf(err, 0, "option `%s` needs a value", argv[optind - 1]);
		default:
			return mc_errorf(err, 0, "unknown option `%s` (see minivm run --help)",
					 argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0)
			return mc_errorf(err, 0,
					 "unexpected argument `%s` (put the guest command "
					 "after --)",
					 argv[optind]);
		o->boot.args = argv + optind;
		o->boot.nargs = (size_t)(argc - optind);
	}
	if (o->restore && (o->boot.kernel || o->boot.initrd || o->boot.cmdline || o->boot.nargs ||
			   o->boot.nenv || o->geometry_set))
		return mc_errorf(
		    err, 0,
		    "--restore takes the guest, its vCPUs, memory and PIT from the "
		    "snapshot: no --kernel, --initrd, --cmdline, --cpus, --mem, --pit, "
		    "--env or command");
	if (o->tty && !o->boot.nargs && !o->restore && !o->incoming)
		return mc_errorf(err, 0, "-t gives the guest command a terminal: it needs -- CMD");
	if (o->incoming && (o->restore || o->boot.kernel || o->boot.initrd || o->boot.cmdline ||
			    o->boot.nargs || o->boot.nenv || o->geometry_set))
		return mc_errorf(
		    err, 0,
		    "--incoming takes the guest, its vCPUs, memory and PIT from the "
		    "source: no --restore, --kernel, --initrd, --cmdline, --cpus, --mem, "
		    "--pit, --env or command (--disk, --net and -t as on the source)");
	if (o->restore || o->incoming)
		return 0;
	if (!o->boot.kernel)
		return mc_errorf(err, 0, "missing --kernel or --restore (see minivm run --help)");
	if ((o->boot.nargs || o->boot.nenv) && !o->boot.initrd)
		return mc_errorf(err, 0,
				 "a guest command or --env needs --initrd: they reach guestinit in "
				 "an archive appended to it");
	if (o->mem < MEM_MIN)
		return mc_errorf(err, 0, "--mem %llu KiB is too small (at least %llu MiB)",
				 (unsigned long long)(o->mem >> 10), MEM_MIN >> 20);
	o->mem = (o->mem + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;
		if (o->mem > host)
			return mc_errorf(err, 0, "--mem %llu MiB is more than this host's %llu MiB",
					 (unsigned long long)(o->mem >> 20),
					 (unsigned long long)(host >> 20));
	}
	return 0;
}

/* With the guest command's stdio on virtio-console, the serial console (the kernel's
 * messages) never goes to stdout: --console-log FILE, stderr with --verbose or --console
 * stdio|stderr, a file with --console file:PATH, else nowhere. */
static void route_console(struct run_opts *o, bool stdio, char *buf, size_t n)
{
	if (o->console_log) {
		snprintf(buf, n, "file:%s", o->console_log);
		o->console = buf;
	} else if (!stdio) {
		return;
	} else if (o->verbose || (o->console_set && strcmp(o->console, "stdio") == 0)) {
		o->console = "stderr";
	} else if (!o->console_set) {
		o->console = "none";
	}
}

/* The host terminal's size (24x80 when neither stdin nor stdout is a terminal). */
static void term_size(uint16_t *rows, uint16_t *cols)
{
	struct winsize ws;
	if ((ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	     ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) &&
	    ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	} else {
		*rows = 24;
		*cols = 80;
	}
}

/* A snapshot's or a migration source's device manifest: its console mode becomes ours (-t
 * given here must agree), its devices are checked once ours exist. */
static int take_manifest(struct run_opts *o, const uint8_t *buf, size_t len, const char *what,
			 struct manifest *m, bool *stdio, mc_err *err)
{
	if (manifest_parse(buf, len, m, err) < 0)
		return mc_wrap(err, "%s", what);
	if (o->tty_set && !(m->console && m->tty))
		return mc_errorf(err, 0, "-t: %s's command has %s: leave -t out as there", what,
				 m->console ? "stdin, stdout and stderr, no terminal"
					    : "no console (no command)");
	*stdio = m->console;
	o->tty = m->console && m->tty;
	return 0;
}

/* After a restore or a migration: have the guest announce itself on its networks (gratuitous
 * ARP, unsolicited neighbour advertisements), so switches learn where its MACs are now. */
static void announce(struct vm *vm)
{
	for (unsigned i = 0; i < vm->devices.n; i++)
		if (strncmp(vm->devices.d[i]->name, "virtio-net", 10) == 0 &&
		    virtio_net_announce((struct virtio_dev *)vm->devices.d[i]))
			mc_log_debug("%s: announce requested", vm->devices.d[i]->name);
}

static const char *end_name(enum vm_end e)
{
	switch (e) {
	case VM_POWEROFF:
		return "poweroff";
	case VM_STOPPED:
		return "stopped";
	case VM_REBOOT:
		return "reboot";
	case VM_FAILED:
		return "error";
	case VM_SIGNALED:
		return "signal";
	default:
		return "none";
	}
}

/* The main thread's event loop: signals, the VM's end, the console's input. */
struct runner {
	struct vm *vm;
	struct device *stdio; /* virtio-console, for SIGWINCH */
	struct loop loop;
	int sig_fd;
};

static void on_vm_end(void *opaque, uint32_t events)
{
	struct runner *r = opaque;
	(void)events;
	loop_stop(&r->loop);
}

/* SIGUSR2: pause a running VM, resume a paused one (the trigger until the control socket).
 * Each toggle prints one line on stderr with what it cost (tests and bench/vm-pause.sh read
 * it): the signal asked for it, so it is not a log message one must turn on. */
static void toggle_pause(struct vm *vm)
{
	mc_err err = NULL;
	uint64_t ns = 0;
	if (vm_state(vm) == VM_STATE_PAUSED) {
		if (vm_resume(vm, &ns, &err) == 0)
			fprintf(stderr, "minivm: resumed in %.3f ms\n", (double)ns / 1e6);
	} else if (vm_pause(vm, &ns, &err) == 0) {
		fprintf(stderr, "minivm: paused in %.3f ms (%u vCPUs parked, devices quiesced)\n",
			(double)ns / 1e6, vm->ncpus);
	}
	if (err) {
		mc_log_warn("SIGUSR2: %s", err->msg);
		mc_error_free(&err);
	}
}

static void on_signal(void *opaque, uint32_t events)
{
	struct runner *r = opaque;
	(void)events;
	struct signalfd_siginfo si;
	while (read(r->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGUSR2) {
			toggle_pause(r->vm);
			continue;
		}
		if (sig == SIGWINCH) {
			uint16_t rows, cols;
			term_size(&rows, &cols);
			virtio_console_resize(r->stdio, rows, cols);
			continue;
		}
		pthread_mutex_lock(&r->vm->end_lock);
		if (r->vm->end == VM_RUNNING)
			r->vm->signal = sig;
		pthread_mutex_unlock(&r->vm->end_lock);
		vm_end(r->vm, VM_SIGNALED, "minivm got signal %d (%s)", sig, strsignal(sig));
	}
}

static int runner_init(struct runner *r, struct vm *vm, const sigset_t *sigs, mc_err *err)
{
	r->vm = vm;
	r->sig_fd = -1;
	if (loop_init(&r->loop, err) < 0)
		return -1;
	r->sig_fd = signalfd(-1, sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sig_fd < 0)
		return mc_errorf(err, errno, "signalfd");
	if (loop_add(&r->loop, r->sig_fd, EPOLLIN, on_signal, r, err) < 0 ||
	    loop_add(&r->loop, vm->end_fd, EPOLLIN, on_vm_end, r, err) < 0)
		return mc_wrap(err, "event loop");
	return 0;
}

static void runner_destroy(struct runner *r)
{
	loop_destroy(&r->loop);
	if (r->sig_fd >= 0)
		close(r->sig_fd);
	r->sig_fd = -1;
}

int cmd_run(int argc, char **argv)
{
	mc_err err = NULL;
	struct run_opts o = {0};
	struct console con;
	static struct vm vm; /* large (vCPU array, routes): keep it off the stack */
	struct runner runner = {.sig_fd = -1, .loop = {.epfd = -1}};
	int status = MINIVM_EXIT_ERROR;
	bool vm_made = false;
	struct snap *snap = NULL;
	struct mig_incoming *incoming = NULL;
	struct api api = {.fd = -1};
	struct termios tty_saved;
	bool tty_raw = false;
	static struct manifest man; /* what the snapshot or the source had (n 0: not known) */
	memset(&con, 0, sizeof(con));
	con.out_fd = con.in_fd = con.space_fd = -1;

	/* A console reader that goes away must not kill the VM: the UART just drops output. */
	signal(SIGPIPE, SIG_IGN);
	/* Signals are the event loop's (signalfd): blocked here, before any thread exists, so
	 * every thread inherits the mask. One that comes during set-up waits for the loop. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (parse(argc, argv, &o, &err) < 0)
		goto out;
	uint64_t t[4];
	t[0] = mc_now_ns();
	bool stdio = o.boot.nargs > 0;
	if (o.restore) {
		if (snap_open(o.restore, &snap, &err) < 0)
			goto out;
		o.ncpus = snap->ncpus;
		o.mem = snap->mem_size;
		o.pit = snap->flags & SNAP_FLAG_PIT;
		stdio = devices_state_has(snap->sec[SNAP_DEVICES][0].p,
					  snap->sec[SNAP_DEVICES][0].len, "virtio-console");
		const struct snap_section *ms = &snap->sec[SNAP_MANIFEST][0];
		if (ms->p &&
		    take_manifest(&o, ms->p, ms->len, "the snapshot", &man, &stdio, &err) < 0)
			goto out;
	}
	if (o.incoming) {
		if (mig_incoming_open(o.incoming, &incoming, &err) < 0)
			goto out;
		const struct mig_setup *su = mig_incoming_setup(incoming);
		o.ncpus = su->ncpus;
		o.mem = su->mem_size;
		o.pit = su->flags & SNAP_FLAG_PIT;
		if (su->manifest_len && take_manifest(&o, su->manifest, su->manifest_len,
						      "the source", &man, &stdio, &err) < 0)
			goto out;
	}
	char console_spec[4200];
	route_console(&o, stdio, console_spec, sizeof(console_spec));
	if (console_parse(o.console, &con, &err) < 0)
		goto out;
	struct virtio_console_conf stdio_conf = {
	    .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO, .tty = o.tty};
	term_size(&stdio_conf.rows, &stdio_conf.cols);
	if (o.tty && !o.restore && !o.incoming) {
		/* guestinit sets hvc0's size from it (a RESIZE before the terminal is open is
		 * lost) and takes it out of the command's environment */
		char sz[48];
		snprintf(sz, sizeof(sz), "MINIVM_TTY_SIZE=%ux%u", stdio_conf.rows, stdio_conf.cols);
		if (env_push(&o, sz, strlen(sz), &err) < 0)
			goto out;
	}
	vm_made = true;
	if (vm_create_from(&vm, (unsigned)o.ncpus, o.mem, o.pit, snap ? snap->mem_fd : -1, &err) <
		0 ||
	    (o.track == DIRTY_TRACK_RING && dirty_ring_enable(&vm, 0, &err) < 0))
		goto out;
	t[1] = mc_now_ns();
	struct hw_config hw = {.console_fd = -1, .disks = o.disks, .ndisks = o.ndisks};
	hw.nets = o.nets;
	hw.nnets = o.nnets;
	hw.stdio = stdio ? &stdio_conf : NULL;
	if (console_open(&con, &err) < 0)
		goto out;
	hw.console_fd = con.out_fd;
	/* Devices before the kernel: their ACPI fragments go into the tables boot_load writes. */
	if (hw_create_devices(&vm, &hw, &err) < 0 ||
	    (!snap && !incoming && boot_load(&vm, &o.boot, &err) < 0))
		goto out;
	/* The devices the snapshot or the source had, before their state is loaded (or, in a
	 * migration, the memory sent): a different set is refused naming the device. */
	if (incoming && mig_incoming_setup(incoming)->disks && man.n &&
	    mig_disk_dst_check(&man, &vm, &err) < 0)
		goto out; /* copy-storage: an image of another size, named */
	if (man.n && manifest_check(&man, &vm, o.restore ? "the snapshot" : "the source", &err) < 0)
		goto out;
	t[2] = mc_now_ns();
	if (vm_create_vcpus(&vm, &err) < 0 || runner_init(&runner, &vm, &sigs, &err) < 0 ||
	    console_attach(&con, &runner.loop, serial_uart(devices_find(&vm.devices, "com1")),
			   &err) < 0)
		goto out;
	runner.stdio = devices_find(&vm.devices, "virtio-console");
	if (incoming && mig_incoming_receive(incoming, &vm, &snap, &err) < 0)
		goto out;
	if (snap && snap_apply(snap, &vm, &err) < 0) {
		mc_wrap(&err, "restore `%s`", o.restore ? o.restore : o.incoming);
		goto out;
	}
	if (o.api && api_open(&api, o.api, &runner.loop, &vm, &err) < 0)
		goto out;
	if (incoming && o.api)
		pc_dest_fatal_unlink(o.api); /* post-copy (postcopy.h) */
	api.restored_from = o.restore;
	t[3] = mc_now_ns();
	mc_log_debug("set-up: vm %.2f ms, devices and load %.2f ms, vCPUs and loop %.2f ms",
		     (double)(t[1] - t[0]) / 1e6, (double)(t[2] - t[1]) / 1e6,
		     (double)(t[3] - t[2]) / 1e6);
	mc_log_debug("%s %s (%s entry at 0x%llx), %u vCPUs, %llu MiB",
		     snap ? "restoring" : "booting", snap ? o.restore : o.boot.kernel,
		     vm.entry.protocol ? vm.entry.protocol : "saved",
		     (unsigned long long)vm.entry.rip, vm.ncpus, (unsigned long long)(o.mem >> 20));
	timings_mark(MS_SETUP);
	if (o.tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty_saved) == 0) {
		/* every key to the guest's terminal, ^C included (docker run -t) */
		struct termios raw = tty_saved;
		cfmakeraw(&raw);
		tty_raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	if (vm_start(&vm, &err) < 0)
		goto out;
	/* The source ends once it reads this; without it, it resumes: then we must not run. */
	if (incoming && mig_incoming_ack(incoming, &err) < 0)
		goto out;
	mig_incoming_close(incoming, NULL);
	incoming = NULL;
	if (o.restore || o.incoming)
		announce(&vm);
	int lr = loop_run(&runner.loop, &err);
	if (lr < 0)
		vm_end(&vm, VM_FAILED, "event loop: %s", err->msg);
	if (vm_join(&vm, lr < 0 ? NULL : &err) < 0 || lr < 0)
		goto out;
	switch (vm.end) {
	case VM_SIGNALED:
		status = 128 + vm.signal;
		char where[256];
		vm_describe_cpus(&vm, where, sizeof(where));
		/* Where the guest was helps with a guest that hung before its init. */
		mc_log_warn("%s; the guest %s; %s", vm.end_msg,
			    timings_ms(MS_INIT) < 0 ? "had not reached init" : "was running",
			    where);
		break;
	default:
		status = vm.guest_status >= 0 ? vm.guest_status : 0;
		mc_log_debug("%s", vm.end_msg);
		break;
	}
out:
	if (vm_made && vm_state(&vm) != VM_STATE_CREATED && vm_state(&vm) != VM_STATE_STOPPED) {
		vm_end(&vm, VM_FAILED, "minivm failed");
		vm_join(&vm, NULL);
	}
	if (runner.stdio && vm.end != VM_SIGNALED) {
		/* the guest's last writes, queued before it powered off (not after ^C: a host
		 * reader that stopped reading must not keep minivm from ending) */
		virtio_console_flush(runner.stdio);
		if (!o.restore && !o.incoming && vm.end == VM_POWEROFF &&
		    !virtio_console_used(runner.stdio))
			mc_log_warn("the guest never opened its stdio ports (an initramfs without "
				    "virtio_console? `make images`): the command's output went to "
				    "the serial console (--console-log FILE)");
	}
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
	mig_incoming_close(incoming, err ? mc_error_text(err) : "minivm failed");
	api_close(&api);
	snap_close(snap);
	console_close(&con);
	runner_destroy(&runner);
	enum vm_end end = vm.end;
	if (vm_made && o.timings_json)
		vm_destroy(&vm); /* `gone` is reported: wait for it */
	else if (vm_made)
		vm_release_detached(&vm);
	timings_mark(MS_GONE);
	if (err) {
		mc_error_print(err, "minivm", stderr);
		mc_error_free(&err);
	}
	if (o.timings_json)
		timings_print_json(stderr, end_name(end), status);
	env_free(&o);
	return status;
}
