/* cgroup v2 has no devices controller: device access is decided by an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup. We emit it instruction by
 * instruction (no compiler, no libbpf): the spec's rules are checked from the last to the
 * first (in OCI the last matching rule wins), then the default nodes, else deny. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

struct prog {
	struct bpf_insn *v;
	size_t n, cap;
};

static int emit(struct prog *p, struct bpf_insn i)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 64;
		struct bpf_insn *nv = realloc(p->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		p->v = nv;
		p->cap = nc;
	}
	p->v[p->n++] = i;
	return 0;
}

static int access_mask(const char *a)
{
	int m = 0;
	for (; *a; a++)
		m |= *a == 'r'	 ? BPF_DEVCG_ACC_READ
		     : *a == 'w' ? BPF_DEVCG_ACC_WRITE
				 : BPF_DEVCG_ACC_MKNOD;
	return m;
}

/* one rule: if (type, access, major, minor) match, return allow; else fall through to the
 * next block. Each jump skips to the end of this block: offset = len - index - 1. */
static int rule(struct prog *p, char type, int64_t major, int64_t minor, int mask, bool allow)
{
	bool full = mask == (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
	bool any = type == 'a';
	int len = (!any) + (full ? 0 : 3) + (!any && major >= 0) + (!any && minor >= 0) + 2;
	int k = 0, r = 0;
	if (!any) {
		int t = type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
		r |= emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, len - k - 1, t));
		k++;
	}
	if (!full) {
		/* the requested access must be a subset: (access & ~mask) == 0 */
		r |= emit(p, INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_2, 0, 0));
		r |= emit(p, INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, ~mask & 7));
		k += 2;
		r |= emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, len - k - 1, 0));
		k++;
	}
	if (!any && major >= 0) {
		r |=
		    emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, len - k - 1, (int)major));
		k++;
	}
	if (!any && minor >= 0) {
		r |=
		    emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, len - k - 1, (int)minor));
		k++;
	}
	r |= emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, allow ? 1 : 0));
	r |= emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	return r;
}

int ct_cg_v2_devices(const char *dir, const struct ct_resources *res, mc_err *err)
{
	static const struct {
		char t;
		int ma, mi;
	} defaults[] = {{'c', 1, 3}, {'c', 1, 5}, {'c', 1, 7}, {'c', 1, 8},   {'c', 1, 9},
			{'c', 5, 0}, {'c', 5, 1}, {'c', 5, 2}, {'c', 136, -1}};
	struct prog p = {0};
	int bad = 0;
	/* r2 = access, r3 = type, r4 = major, r5 = minor (r1 = ctx, clobbered later) */
	bad |= emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0));
	bad |= emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0));
	bad |= emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0));
	bad |= emit(&p, INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
	bad |= emit(&p, INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff));
	bad |= emit(&p, INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_2, 0, 0, 16));
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		bad |= rule(&p, defaults[i].t, defaults[i].ma, defaults[i].mi, 7, true);
	bool decided = false; /* an unconditional rule ends the program (the verifier rejects
			       * unreachable code) */
	for (size_t i = res->ndevrules; i-- > 0 && !decided;) {
		const struct ct_dev_rule *d = &res->devrules[i];
		int mask = access_mask(d->access);
		bad |= rule(&p, d->type, d->major, d->minor, mask, d->allow);
		decided = d->type == 'a' && mask == 7;
	}
	if (!decided) {
		bad |= emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
		bad |= emit(&p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	}
	if (bad) {
		free(p.v);
		return mc_errorf(err, ENOMEM, "device filter");
	}
	char log[4096] = "";
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uintptr_t)p.v;
	a.insn_cnt = p.n;
	a.license = (uintptr_t) "GPL";
	int pfd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	int e = errno;
	if (pfd < 0) {
		/* once more with the verifier's log, for the error message */
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	}
	free(p.v);
	if (pfd < 0)
		return mc_errorf(err, e, "device filter: load eBPF program (%.200s)", log);
	_cleanup_close_ int prog = pfd;
	_cleanup_close_ int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return mc_errorf(err, errno, "device filter: open `%s`", dir);
	memset(&a, 0, sizeof(a));
	a.target_fd = cfd;
	a.attach_bpf_fd = prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a)) < 0)
		return mc_errorf(err, errno, "device filter: attach to `%s`", dir);
	return 0;
}
