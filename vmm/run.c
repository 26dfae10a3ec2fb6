/* minivm run: options, then create the VM, load the kernel, run, report. */
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "boot/boot.h"
#include "cmds.h"
#include "console.h"
#include "log.h"
#include "timings.h"
#include "util.h"
#include "vm.h"

#define MEM_MIN (16ull << 20)

static const char usage[] =
    "usage: minivm run --kernel PATH [--initrd PATH] [--cmdline STR] [--cpus N] [--mem SIZE]\n"
    "                  [--console none|stdio|file:PATH] [--pit|--no-pit] [--timings json]\n"
    "                  [-- CMD ARGS...]\n"
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
    "  -- CMD      what the guest's init (guestinit) runs\n"
    "Exit status: the guest command's, 0 after a plain poweroff, 125 when minivm fails.\n";

struct run_opts {
	struct boot_config boot;
	uint64_t ncpus, mem;
	const char *console;
	bool timings_json, pit;
};

static int parse(int argc, char **argv, struct run_opts *o, mc_err *err)
{
	static const struct option opts[] = {{"kernel", required_argument, NULL, 'k'},
					     {"initrd", required_argument, NULL, 'i'},
					     {"cmdline", required_argument, NULL, 'c'},
					     {"cpus", required_argument, NULL, 'n'},
					     {"mem", required_argument, NULL, 'm'},
					     {"console", required_argument, NULL, 'C'},
					     {"timings", required_argument, NULL, 't'},
					     {"pit", no_argument, NULL, 'p'},
					     {"no-pit", no_argument, NULL, 'P'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	*o = (struct run_opts){.ncpus = 1, .mem = 256ull << 20, .console = "stdio"};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
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
			break;
		case 'm':
			if (mc_parse_size(optarg, &o->mem, err) < 0)
				return mc_wrap(err, "--mem");
			break;
		case 'C':
			o->console = optarg;
			break;
		case 't':
			if (strcmp(optarg, "json") != 0)
				return mc_errorf(err, 0, "--timings `%s`: only `json` is supported",
						 optarg);
			o->timings_json = true;
			break;
		case 'p':
		case 'P':
			o->pit = c == 'p';
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
	if (!o->boot.kernel)
		return mc_errorf(err, 0, "missing --kernel (see minivm run --help)");
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

static const char *end_name(enum vm_end e)
{
	switch (e) {
	case VM_POWEROFF:
		return "poweroff";
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

int cmd_run(int argc, char **argv)
{
	mc_err err = NULL;
	struct run_opts o;
	struct console con;
	static struct vm vm; /* large (vCPU array): keep it off the stack */
	int status = MINIVM_EXIT_ERROR;
	bool vm_made = false;
	memset(&con, 0, sizeof(con));
	con.out_fd = con.stop_fd = -1;
	o.timings_json = false;
	o.pit = false;

	/* A console reader that goes away must not kill the VM: the UART just drops output. */
	signal(SIGPIPE, SIG_IGN);
	if (parse(argc, argv, &o, &err) < 0 || console_parse(o.console, &con, &err) < 0)
		goto out;
	vm_made = true;
	uint64_t t[4];
	t[0] = mc_now_ns();
	if (vm_create(&vm, (unsigned)o.ncpus, o.mem, o.pit, &err) < 0)
		goto out;
	t[1] = mc_now_ns();
	if (boot_load(&vm, &o.boot, &err) < 0)
		goto out;
	t[2] = mc_now_ns();
	if (console_open(&con, &err) < 0 || vm_add_devices(&vm, con.out_fd, &err) < 0 ||
	    vm_create_vcpus(&vm, &err) < 0 || console_start_input(&con, &vm.uart, &err) < 0)
		goto out;
	t[3] = mc_now_ns();
	mc_log_debug("set-up: vm %.2f ms, load %.2f ms, devices and vCPUs %.2f ms",
		     (double)(t[1] - t[0]) / 1e6, (double)(t[2] - t[1]) / 1e6,
		     (double)(t[3] - t[2]) / 1e6);
	mc_log_debug("booting %s (%s entry at 0x%llx), %u vCPUs, %llu MiB", o.boot.kernel,
		     vm.entry.protocol, (unsigned long long)vm.entry.rip, vm.ncpus,
		     (unsigned long long)(o.mem >> 20));
	timings_mark(MS_SETUP);
	if (vm_run(&vm, &err) < 0)
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
	console_close(&con);
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
	return status;
}
