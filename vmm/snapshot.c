/* Snapshots (snapshot.h, docs/snapshot.md). */
#include "snapshot.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "cleanup.h"
#include "log.h"
#include "manifest.h"
#include "migstream.h"
#include "state.h"
#include "util.h"
#include "vm.h"

#define MSR_IA32_TSC	      0x10u
#define MSR_IA32_TSC_DEADLINE 0x6e0u

/* ---- parsing (no KVM) --------------------------------------------------------------------- */

static bool vcpu_type(uint32_t t)
{
	return t >= SNAP_REGS && t < SNAP_TYPE_MAX;
}

/* The length a section of type t must have; 0: variable (checked by the caller). */
static size_t fixed_len(uint32_t t)
{
	switch (t) {
	case SNAP_CLOCK:
		return 16;
	case SNAP_IRQCHIP:
		return sizeof(struct kvm_irqchip);
	case SNAP_PIT:
		return sizeof(struct kvm_pit_state2);
	case SNAP_REGS:
		return sizeof(struct kvm_regs);
	case SNAP_SREGS:
		return sizeof(struct kvm_sregs);
	case SNAP_SREGS2:
		return sizeof(struct kvm_sregs2);
	case SNAP_FPU:
		return sizeof(struct kvm_fpu);
	case SNAP_XCRS:
		return sizeof(struct kvm_xcrs);
	case SNAP_LAPIC:
		return sizeof(struct kvm_lapic_state);
	case SNAP_EVENTS:
		return sizeof(struct kvm_vcpu_events);
	case SNAP_MP_STATE:
		return sizeof(struct kvm_mp_state);
	case SNAP_DEBUGREGS:
		return sizeof(struct kvm_debugregs);
	default:
		return 0;
	}
}

static const char *type_name(uint32_t t)
{
	/* clang-format off */
	static const char *const names[SNAP_TYPE_MAX] = {
	    [SNAP_CLOCK] = "clock",
	    [SNAP_IRQCHIP] = "irqchip",
	    [SNAP_PIT] = "pit",
	    [SNAP_DEVICES] = "devices",
	    [SNAP_MANIFEST] = "manifest",
	    [SNAP_REGS] = "regs",
	    [SNAP_SREGS] = "sregs",
	    [SNAP_SREGS2] = "sregs2",
	    [SNAP_FPU] = "fpu",
	    [SNAP_XSAVE] = "xsave",
	    [SNAP_XCRS] = "xcrs",
	    [SNAP_MSRS] = "msrs",
	    [SNAP_LAPIC] = "lapic",
	    [SNAP_EVENTS] = "events",
	    [SNAP_MP_STATE] = "mp_state",
	    [SNAP_DEBUGREGS] = "debugregs",
	};
	/* clang-format on */
	return t < SNAP_TYPE_MAX && names[t] ? names[t] : "?";
}

int snap_parse(const uint8_t *buf, size_t len, struct snap *s, mc_err *err)
{
	memset(s->sec, 0, sizeof(s->sec));
	if (len < SNAP_HEADER_LEN || memcmp(buf, SNAP_MAGIC, 8) != 0)
		return mc_errorf(err, 0, "not a minivm snapshot (bad magic)");
	s->version = get32(buf + 8);
	if (s->version != SNAP_VERSION)
		return mc_errorf(err, 0, "snapshot format version %u, this minivm reads %u",
				 s->version, SNAP_VERSION);
	if (get32(buf + 12) != SNAP_HEADER_LEN)
		return mc_errorf(err, 0, "header length %u, expected %u", get32(buf + 12),
				 SNAP_HEADER_LEN);
	if (mc_crc32(0, buf, SNAP_HEADER_LEN - 4) != get32(buf + SNAP_HEADER_LEN - 4))
		return mc_errorf(err, 0, "header checksum mismatch");
	s->ncpus = get32(buf + 16);
	s->flags = get32(buf + 20);
	s->mem_size = get64(buf + 24);
	uint32_t nsec = get32(buf + 32);
	s->tsc_khz = get32(buf + 36);
	s->saved_at_ns = get64(buf + 40);
	if (s->ncpus < 1 || s->ncpus > SNAP_MAX_CPUS)
		return mc_errorf(err, 0, "%u vCPUs (1 to %u)", s->ncpus, SNAP_MAX_CPUS);
	if (s->flags & ~SNAP_FLAG_PIT)
		return mc_errorf(err, 0, "unknown flags 0x%x", s->flags);
	if (s->mem_size < (16ull << 20) || s->mem_size > (1ull << 40) || s->mem_size % (2ull << 20))
		return mc_errorf(err, 0, "memory size %llu bytes is not a valid guest size",
				 (unsigned long long)s->mem_size);
	size_t off = SNAP_HEADER_LEN;
	for (uint32_t i = 0; i < nsec; i++) {
		if (len - off < SNAP_SECTION_HDR)
			return mc_errorf(err, 0, "cut short in section %u of %u", i, nsec);
		const uint8_t *h = buf + off;
		uint32_t type = get32(h), idx = get32(h + 4), slen = get32(h + 8),
			 crc = get32(h + 12);
		off += SNAP_SECTION_HDR;
		if (slen > SNAP_SECTION_MAX || slen > len - off)
			return mc_errorf(err, 0, "section %u (%s): %u bytes, only %zu left", i,
					 type_name(type), slen, len - off);
		const uint8_t *body = buf + off;
		off += slen;
		if (mc_crc32(0, body, slen) != crc)
			return mc_errorf(err, 0, "section %u (%s): checksum mismatch", i,
					 type_name(type));
		if (type >= SNAP_TYPE_MAX || type_name(type)[0] == '?')
			return mc_errorf(err, 0, "section %u: unknown type %u", i, type);
		uint32_t max_idx = vcpu_type(type) ? s->ncpus : type == SNAP_IRQCHIP ? 3 : 1;
		if (idx >= max_idx)
			return mc_errorf(err, 0, "section %u (%s): index %u out of range (%u)", i,
					 type_name(type), idx, max_idx);
		size_t want = fixed_len(type);
		if (want && slen != want)
			return mc_errorf(err, 0, "section %u (%s): %u bytes, expected %zu", i,
					 type_name(type), slen, want);
		if (type == SNAP_MANIFEST && slen > MANIFEST_MAX)
			return mc_errorf(err, 0, "section %u (manifest): %u bytes", i, slen);
		if (type == SNAP_XSAVE && (slen < 4096 || slen % 4))
			return mc_errorf(err, 0, "section %u (xsave): %u bytes", i, slen);
		if (type == SNAP_MSRS &&
		    (slen < 4 || get32(body) > SNAP_MSRS_MAX || slen != 4 + 16 * get32(body)))
			return mc_errorf(err, 0, "section %u (msrs): %u bytes for %u MSRs", i, slen,
					 slen >= 4 ? get32(body) : 0);
		if (s->sec[type][idx].p)
			return mc_errorf(err, 0, "section %u (%s %u): duplicate", i,
					 type_name(type), idx);
		s->sec[type][idx] = (struct snap_section){.p = body, .len = slen};
	}
	if (off != len)
		return mc_errorf(err, 0, "%zu bytes after the last section", len - off);
	for (unsigned c = 0; c < 3; c++)
		if (!s->sec[SNAP_IRQCHIP][c].p)
			return mc_errorf(err, 0, "no irqchip section %u", c);
	if (!s->sec[SNAP_DEVICES][0].p)
		return mc_errorf(err, 0, "no devices section");
	if ((s->flags & SNAP_FLAG_PIT) && !s->sec[SNAP_PIT][0].p)
		return mc_errorf(err, 0, "no PIT section though the VM had a PIT");
	static const uint32_t need[] = {SNAP_REGS, SNAP_MSRS, SNAP_LAPIC, SNAP_EVENTS,
					SNAP_MP_STATE};
	for (uint32_t v = 0; v < s->ncpus; v++) {
		for (size_t k = 0; k < MC_ARRAY_SIZE(need); k++)
			if (!s->sec[need[k]][v].p)
				return mc_errorf(err, 0, "vCPU %u: no %s section (of %u vCPUs)", v,
						 type_name(need[k]), s->ncpus);
		if (!s->sec[SNAP_SREGS][v].p == !s->sec[SNAP_SREGS2][v].p)
			return mc_errorf(err, 0, "vCPU %u: needs exactly one of sregs and sregs2",
					 v);
		if (!s->sec[SNAP_FPU][v].p && !s->sec[SNAP_XSAVE][v].p)
			return mc_errorf(err, 0, "vCPU %u: no fpu or xsave section", v);
	}
	return 0;
}

int snap_open(const char *dir, struct snap **out, mc_err *err)
{
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return mc_errorf(err, ENOMEM, "snapshot");
	s->mem_fd = -1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/" SNAP_STATE_FILE, dir);
	char *buf = NULL;
	if (mc_read_file(path, SNAP_STATE_MAX, &buf, &s->len, err) < 0)
		goto fail;
	s->buf = (uint8_t *)buf;
	if (snap_parse(s->buf, s->len, s, err) < 0) {
		mc_wrap(err, "`%s`", path);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/" SNAP_MEMORY_FILE, dir);
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (s->mem_fd < 0 || fstat(s->mem_fd, &st) < 0) {
		mc_errorf(err, errno, "open `%s`", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != s->mem_size) {
		mc_errorf(err, 0, "`%s`: %llu bytes, the snapshot's guest has %llu", path,
			  (unsigned long long)st.st_size, (unsigned long long)s->mem_size);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	snap_close(s);
	return mc_wrap(err, "snapshot `%s`", dir);
}

void snap_close(struct snap *s)
{
	if (!s)
		return;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s->buf);
	free(s);
}

/* ---- saving ------------------------------------------------------------------------------ */

static void put_section(struct state_w *w, uint32_t *n, uint32_t type, uint32_t idx, const void *p,
			size_t len)
{
	state_put32(w, type);
	state_put32(w, idx);
	state_put32(w, (uint32_t)len);
	state_put32(w, mc_crc32(0, p, len));
	state_put(w, p, len);
	(*n)++;
}

static int cap(int fd, long c)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, c);
	return r > 0 ? r : 0;
}

/* The MSRs KVM saves (KVM_GET_MSR_INDEX_LIST) that KVM_GET_MSRS reads on this host, TSC
 * first and the TSC deadline last (it is armed relative to the TSC). */
static int msr_list(struct vm *vm, int vcpu_fd, uint32_t **out, uint32_t *count, mc_err *err)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return mc_errorf(err, errno, "KVM_GET_MSR_INDEX_LIST");
	uint32_t n = probe.nmsrs;
	if (n > SNAP_MSRS_MAX)
		n = SNAP_MSRS_MAX;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + (n + 1) * sizeof(uint32_t));
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (n + 1) * sizeof(struct kvm_msr_entry));
	uint32_t *idx = calloc(n + 1, sizeof(uint32_t));
	if (!l || !m || !idx) {
		free(l), free(m), free(idx);
		return mc_errorf(err, ENOMEM, "MSR list");
	}
	l->nmsrs = n;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		int e = errno;
		free(l), free(m), free(idx);
		return mc_errorf(err, e, "KVM_GET_MSR_INDEX_LIST");
	}
	n = l->nmsrs;
	uint32_t k = 0;
	bool deadline = false;
	for (uint32_t i = 0; i < n; i++)
		if (l->indices[i] == MSR_IA32_TSC)
			idx[k++] = MSR_IA32_TSC;
	for (uint32_t i = 0; i < n; i++) {
		if (l->indices[i] == MSR_IA32_TSC_DEADLINE)
			deadline = true;
		else if (l->indices[i] != MSR_IA32_TSC)
			idx[k++] = l->indices[i];
	}
	if (deadline)
		idx[k++] = MSR_IA32_TSC_DEADLINE;
	/* KVM_GET_MSRS stops at the first MSR it refuses: drop that one and go on. */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < k; i++) {
		m->nmsrs = 1;
		m->entries[0] = (struct kvm_msr_entry){.index = idx[i]};
		if (ioctl(vcpu_fd, KVM_GET_MSRS, m) == 1)
			idx[kept++] = idx[i];
	}
	free(l);
	free(m);
	*out = idx;
	*count = kept;
	return 0;
}

static int save_vcpu(struct vm *vm, struct vcpu *v, const uint32_t *msrs, uint32_t nmsrs,
		     struct state_w *w, uint32_t *n, mc_err *err)
{
	int fd = v->fd;
	unsigned id = v->id;
	/* MP state first: KVM_GET_MP_STATE lets the LAPIC accept pending events, which can
	 * change the rest (Firecracker's order). */
	struct kvm_mp_state mp;
	if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
		return mc_errorf(err, errno, "vCPU %u: KVM_GET_MP_STATE", id);
	put_section(w, n, SNAP_MP_STATE, id, &mp, sizeof(mp));
	struct kvm_regs regs;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0)
		return mc_errorf(err, errno, "vCPU %u: KVM_GET_REGS", id);
	put_section(w, n, SNAP_REGS, id, &regs, sizeof(regs));
	if (cap(vm->kvm_fd, KVM_CAP_SREGS2)) {
		struct kvm_sregs2 sr;
		if (ioctl(fd, KVM_GET_SREGS2, &sr) < 0)
			return mc_errorf(err, errno, "vCPU %u: KVM_GET_SREGS2", id);
		put_section(w, n, SNAP_SREGS2, id, &sr, sizeof(sr));
	} else {
		struct kvm_sregs sr;
		if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)
			return mc_errorf(err, errno, "vCPU %u: KVM_GET_SREGS", id);
		put_section(w, n, SNAP_SREGS, id, &sr, sizeof(sr));
	}
	int xsize = cap(vm->vm_fd, KVM_CAP_XSAVE2);
	if (xsize < 4096 && cap(vm->kvm_fd, KVM_CAP_XSAVE))
		xsize = 4096;
	if (xsize >= 4096) {
		void *x = calloc(1, (size_t)xsize);
		if (!x)
			return mc_errorf(err, ENOMEM, "XSAVE");
		unsigned long req = cap(vm->vm_fd, KVM_CAP_XSAVE2) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
		if (ioctl(fd, req, x) < 0) {
			free(x);
			return mc_errorf(err, errno, "vCPU %u: KVM_GET_XSAVE", id);
		}
		put_section(w, n, SNAP_XSAVE, id, x, (size_t)xsize);
		free(x);
	} else {
		struct kvm_fpu fpu;
		if (ioctl(fd, KVM_GET_FPU, &fpu) < 0)
			return mc_errorf(err, errno, "vCPU %u: KVM_GET_FPU", id);
		put_section(w, n, SNAP_FPU, id, &fpu, sizeof(fpu));
	}
	if (cap(vm->kvm_fd, KVM_CAP_XCRS)) {
		struct kvm_xcrs x;
		if (ioctl(fd, KVM_GET_XCRS, &x) < 0)
			return mc_errorf(err, errno, "vCPU %u: KVM_GET_XCRS", id);
		put_section(w, n, SNAP_XCRS, id, &x, sizeof(x));
	}
	if (cap(vm->kvm_fd, KVM_CAP_DEBUGREGS)) {
		struct kvm_debugregs d;
		if (ioctl(fd, KVM_GET_DEBUGREGS, &d) < 0)
			return mc_errorf(err, errno, "vCPU %u: KVM_GET_DEBUGREGS", id);
		put_section(w, n, SNAP_DEBUGREGS, id, &d, sizeof(d));
	}
	struct kvm_lapic_state la;
	if (ioctl(fd, KVM_GET_LAPIC, &la) < 0)
		return mc_errorf(err, errno, "vCPU %u: KVM_GET_LAPIC", id);
	put_section(w, n, SNAP_LAPIC, id, &la, sizeof(la));

	struct kvm_msrs *m = calloc(1, sizeof(*m) + (nmsrs + 1) * sizeof(struct kvm_msr_entry));
	if (!m)
		return mc_errorf(err, ENOMEM, "MSRs");
	m->nmsrs = nmsrs;
	for (uint32_t i = 0; i < nmsrs; i++)
		m->entries[i].index = msrs[i];
	int got = nmsrs ? ioctl(fd, KVM_GET_MSRS, m) : 0;
	if (got < 0 || (uint32_t)got != nmsrs) {
		int e = errno;
		free(m);
		return mc_errorf(err, got < 0 ? e : 0, "vCPU %u: KVM_GET_MSRS read %d of %u", id,
				 got, nmsrs);
	}
	struct state_w mw = {0};
	state_put32(&mw, nmsrs);
	for (uint32_t i = 0; i < nmsrs; i++) {
		state_put32(&mw, m->entries[i].index);
		state_put32(&mw, 0);
		state_put64(&mw, m->entries[i].data);
	}
	free(m);
	if (mw.oom)
		return mc_errorf(err, ENOMEM, "MSRs");
	put_section(w, n, SNAP_MSRS, id, mw.p, mw.len);
	state_w_free(&mw);

	struct kvm_vcpu_events ev;
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return mc_errorf(err, errno, "vCPU %u: KVM_GET_VCPU_EVENTS", id);
	put_section(w, n, SNAP_EVENTS, id, &ev, sizeof(ev));
	return 0;
}

bool snap_page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < 4096 / 8; i += 8)
		acc |= q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] |
		       q[i + 7];
	return acc == 0;
}

/* The file a restored VM's RAM is mapped from (MAP_PRIVATE), -1 for anonymous RAM: set by
 * snap_apply (one VM per process). A page never touched since reads as that file's bytes. */
static int ram_source_fd = -1;

/* Which pages to read: /proc/self/pagemap says which ones are in memory (present or swapped);
 * any other page is zero in anonymous RAM, and in a restored VM whatever the source file holds
 * there (zero in its holes: SEEK_DATA). Without pagemap every page is read. */
struct snap_scan {
	int pagemap;
	const uint8_t *ram;
	uint64_t base, n; /* pagemap entries held, from page index base */
	uint64_t map[8192];
	int64_t data_start, data_end; /* the source file's current data extent */
};

bool snap_scan_maybe_data(struct snap_scan *ps, uint64_t off)
{
	if (ps->pagemap < 0)
		return true;
	uint64_t page = ((uintptr_t)ps->ram + off) / 4096;
	if (page < ps->base || page >= ps->base + ps->n) {
		ssize_t r = pread(ps->pagemap, ps->map, sizeof(ps->map), (off_t)(page * 8));
		if (r < 8) {
			close(ps->pagemap);
			ps->pagemap = -1;
			return true;
		}
		ps->base = page;
		ps->n = (uint64_t)r / 8;
	}
	uint64_t e = ps->map[page - ps->base];
	if (e & (3ull << 62)) /* present or swapped */
		return true;
	if (ram_source_fd < 0)
		return false;
	if ((int64_t)off >= ps->data_end) {
		ps->data_start = lseek(ram_source_fd, (off_t)off, SEEK_DATA);
		if (ps->data_start < 0) /* ENXIO: no data after off */
			ps->data_start = ps->data_end = INT64_MAX;
		else
			ps->data_end = lseek(ram_source_fd, ps->data_start, SEEK_HOLE);
		if (ps->data_end < 0)
			ps->data_end = INT64_MAX;
	}
	return (int64_t)off >= ps->data_start;
}

static bool page_has_data(struct snap_scan *ps, uint64_t off)
{
	return snap_scan_maybe_data(ps, off) && !snap_page_zero(ps->ram + off);
}

struct snap_scan *snap_scan_new(const uint8_t *ram)
{
	struct snap_scan *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ps->ram = ram;
	ps->data_start = ps->data_end = -1;
	return ps;
}

void snap_scan_free(struct snap_scan *ps)
{
	if (ps && ps->pagemap >= 0)
		close(ps->pagemap);
	free(ps);
}

/* Guest RAM into a sparse file: runs of non-zero pages written, zero pages left as holes. */
static int save_memory(struct vm *vm, const char *path, uint64_t *written, mc_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return mc_errorf(err, errno, "create `%s`", path);
	const uint8_t *ram = vm->gm.host;
	uint64_t size = vm->gm.size, total = 0;
	struct snap_scan *ps = snap_scan_new(ram);
	int r = 0;
	if (!ps) {
		r = mc_errorf(err, ENOMEM, "page scan");
		goto out;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		r = mc_errorf(err, errno, "truncate `%s`", path);
		goto out;
	}
	for (uint64_t off = 0; off < size;) {
		if (!page_has_data(ps, off)) {
			off += 4096;
			continue;
		}
		uint64_t end = off + 4096;
		while (end < size && end - off < (8u << 20) && page_has_data(ps, end))
			end += 4096;
		for (uint64_t at = off; at < end;) {
			ssize_t w = pwrite(fd, ram + at, (size_t)(end - at), (off_t)at);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r = mc_errorf(err, w < 0 ? errno : EIO, "write `%s`", path);
				goto out;
			}
			at += (uint64_t)w;
		}
		total += end - off;
		off = end;
	}
	*written = total;
out:
	snap_scan_free(ps);
	if (close(fd) < 0 && r == 0)
		r = mc_errorf(err, errno, "close `%s`", path);
	if (r < 0)
		unlink(path);
	return r;
}

int snap_state(struct vm *vm, struct state_w *out, mc_err *err)
{
	if (vm_state(vm) != VM_STATE_PAUSED)
		return mc_errorf(err, 0, "snapshot: the VM is %s, not paused",
				 vm_state_name(vm_state(vm)));
	struct state_w w = {0};
	uint32_t n = 0, nmsrs = 0, *msrs = NULL;
	uint8_t hdr[SNAP_HEADER_LEN] = {0};
	state_put(&w, hdr, sizeof(hdr));
	int r = -1;

	struct kvm_clock_data clk = {0};
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clk) < 0) {
		mc_errorf(err, errno, "KVM_GET_CLOCK");
		goto out;
	}
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t now_rt = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	uint8_t cb[16];
	put64(cb, clk.clock);
	put64(cb + 8, now_rt);
	put_section(&w, &n, SNAP_CLOCK, 0, cb, sizeof(cb));
	for (uint32_t c = 0; c < 3; c++) {
		struct kvm_irqchip ic = {.chip_id = c};
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &ic) < 0) {
			mc_errorf(err, errno, "KVM_GET_IRQCHIP %u", c);
			goto out;
		}
		put_section(&w, &n, SNAP_IRQCHIP, c, &ic, sizeof(ic));
	}
	uint32_t flags = 0;
	struct kvm_pit_state2 pit;
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) == 0) {
		flags |= SNAP_FLAG_PIT;
		put_section(&w, &n, SNAP_PIT, 0, &pit, sizeof(pit));
	} else if (errno != ENXIO) {
		mc_errorf(err, errno, "KVM_GET_PIT2");
		goto out;
	}
	if (msr_list(vm, vm->vcpus[0].fd, &msrs, &nmsrs, err) < 0)
		goto out;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (save_vcpu(vm, &vm->vcpus[i], msrs, nmsrs, &w, &n, err) < 0)
			goto out;
	struct state_w dw = {0};
	if (devices_save(&vm->devices, &dw, err) < 0) {
		state_w_free(&dw);
		goto out;
	}
	put_section(&w, &n, SNAP_DEVICES, 0, dw.p, dw.len);
	state_w_free(&dw);
	char man[MANIFEST_MAX];
	int ml = manifest_write(vm, man, sizeof(man), err);
	if (ml < 0)
		goto out;
	put_section(&w, &n, SNAP_MANIFEST, 0, man, (size_t)ml);
	if (w.oom) {
		mc_errorf(err, ENOMEM, "snapshot state");
		goto out;
	}
	int tsc_khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	memcpy(hdr, SNAP_MAGIC, 8);
	put32(hdr + 8, SNAP_VERSION);
	put32(hdr + 12, SNAP_HEADER_LEN);
	put32(hdr + 16, vm->ncpus);
	put32(hdr + 20, flags);
	put64(hdr + 24, vm->gm.size);
	put32(hdr + 32, n);
	put32(hdr + 36, tsc_khz > 0 ? (uint32_t)tsc_khz : 0);
	put64(hdr + 40, now_rt);
	put32(hdr + SNAP_HEADER_LEN - 4, mc_crc32(0, hdr, SNAP_HEADER_LEN - 4));
	memcpy(w.p, hdr, sizeof(hdr));
	*out = w;
	w = (struct state_w){0};
	r = 0;
out:
	free(msrs);
	state_w_free(&w);
	return r;
}

int snap_save(struct vm *vm, const char *dir, struct snap_stats *st, mc_err *err)
{
	struct snap_stats stats = {0};
	if (vm_state(vm) != VM_STATE_PAUSED)
		return mc_errorf(err, 0, "snapshot: the VM is %s, not paused",
				 vm_state_name(vm_state(vm)));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return mc_errorf(err, errno, "snapshot: mkdir `%s`", dir);
	uint64_t t0 = mc_now_ns();
	struct state_w w = {0};
	int r = -1;
	if (snap_state(vm, &w, err) < 0)
		goto out;
	stats.state_ns = mc_now_ns() - t0;
	stats.state_bytes = w.len;

	/* Memory first, then the state: a `state` file names a complete snapshot. New files
	 * are renamed over the old ones, never rewritten in place. */
	char mtmp[4096], mpath[4096], stmp[4096], spath[4096];
	snprintf(mtmp, sizeof(mtmp), "%s/." SNAP_MEMORY_FILE ".tmp", dir);
	snprintf(mpath, sizeof(mpath), "%s/" SNAP_MEMORY_FILE, dir);
	snprintf(stmp, sizeof(stmp), "%s/." SNAP_STATE_FILE ".tmp", dir);
	snprintf(spath, sizeof(spath), "%s/" SNAP_STATE_FILE, dir);
	uint64_t t1 = mc_now_ns();
	if (save_memory(vm, mtmp, &stats.memory_bytes, err) < 0)
		goto out;
	stats.memory_ns = mc_now_ns() - t1;
	int sfd = open(stmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (sfd < 0 || mc_write_all(sfd, w.p, w.len) < 0 || close(sfd) < 0) {
		mc_errorf(err, errno, "write `%s`", stmp);
		if (sfd >= 0)
			close(sfd);
		unlink(stmp);
		unlink(mtmp);
		goto out;
	}
	if (rename(mtmp, mpath) < 0 || rename(stmp, spath) < 0) {
		mc_errorf(err, errno, "rename into `%s`", dir);
		unlink(mtmp);
		unlink(stmp);
		goto out;
	}
	r = 0;
	if (st)
		*st = stats;
out:
	state_w_free(&w);
	return r < 0 ? mc_wrap(err, "snapshot `%s`", dir) : 0;
}

/* ---- restoring --------------------------------------------------------------------------- */

#define SEC(s, t, i) (&(s)->sec[(t)][(i)])

/* memcpy the section into a KVM struct, then ioctl. */
static int put_struct(int fd, unsigned long req, const struct snap_section *sec, void *buf,
		      size_t size, const char *what, unsigned id, mc_err *err)
{
	if (!sec->p)
		return 0;
	memset(buf, 0, size);
	memcpy(buf, sec->p, sec->len < size ? sec->len : size);
	if (ioctl(fd, req, buf) < 0)
		return mc_errorf(err, errno, "vCPU %u: %s", id, what);
	return 0;
}

/* KVM on AMD reports TR as a busy TSS (type 11) whatever the VMCB holds (svm_get_segment sets
 * the bit: SVM does not expose it), and writes back what it is given. SVM ignores the type, but
 * QEMU's TCG, which emulates SVM in the lab (docs/lab.md), refuses user-mode port I/O under
 * ioperm() unless TR's type is 9: a restored guest's init then took a #GP at its exit-status
 * write. On AMD hosts TR goes back as the VMCB had it; Intel's VM entry needs 11, kept there. */
static bool host_is_amd(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0, &a, &b, &c, &d))
		return false;
	return (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) || /* AuthenticAMD */
	       (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975);	  /* HygonGenuine */
}

static void tr_as_svm_holds(struct kvm_segment *tr)
{
	if (tr->type == 11 && host_is_amd())
		tr->type = 9;
}

/* sregs or sregs2 (whichever the snapshot holds), TR's type as the host's VMCB had it */
static int put_sregs(int fd, const struct snap_section *sr, const struct snap_section *sr2,
		     unsigned id, mc_err *err)
{
	union {
		struct kvm_sregs sregs;
		struct kvm_sregs2 sregs2;
	} u;
	const struct snap_section *sec = sr2->p ? sr2 : sr;
	size_t size = sr2->p ? sizeof(u.sregs2) : sizeof(u.sregs);
	if (!sec->p)
		return 0;
	memset(&u, 0, sizeof(u));
	memcpy(&u, sec->p, sec->len < size ? sec->len : size);
	tr_as_svm_holds(sr2->p ? &u.sregs2.tr : &u.sregs.tr);
	if (ioctl(fd, sr2->p ? KVM_SET_SREGS2 : KVM_SET_SREGS, &u) < 0)
		return mc_errorf(err, errno, "vCPU %u: %s", id,
				 sr2->p ? "KVM_SET_SREGS2" : "KVM_SET_SREGS");
	return 0;
}

static int apply_msrs(int fd, unsigned id, const struct snap_section *sec, mc_err *err)
{
	uint32_t n = get32(sec->p);
	struct kvm_msr_entry *e = calloc(n + 1, sizeof(*e));
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (n + 1) * sizeof(*e));
	if (!e || !m) {
		free(e), free(m);
		return mc_errorf(err, ENOMEM, "MSRs");
	}
	for (uint32_t i = 0; i < n; i++) {
		e[i].index = get32(sec->p + 4 + 16 * i);
		e[i].data = get64(sec->p + 4 + 16 * i + 8);
	}
	/* KVM_SET_MSRS stops at the first MSR it refuses: note it, skip it, go on. */
	uint32_t done = 0, refused = 0;
	while (done < n) {
		m->nmsrs = n - done;
		memcpy(m->entries, e + done, (n - done) * sizeof(*e));
		int r = ioctl(fd, KVM_SET_MSRS, m);
		if (r < 0) {
			int en = errno;
			free(e), free(m);
			return mc_errorf(err, en, "vCPU %u: KVM_SET_MSRS", id);
		}
		done += (uint32_t)r;
		if (done < n) {
			mc_log_debug("vCPU %u: MSR 0x%x not restored (KVM refused it)", id,
				     e[done].index);
			refused++;
			done++;
		}
	}
	free(e), free(m);
	if (refused)
		mc_log_debug("vCPU %u: %u of %u MSRs refused", id, refused, n);
	return 0;
}

static int apply_vcpu(const struct snap *s, struct vm *vm, struct vcpu *v, mc_err *err)
{
	unsigned id = v->id;
	int fd = v->fd;
	union {
		struct kvm_mp_state mp;
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		struct kvm_sregs2 sregs2;
		struct kvm_fpu fpu;
		struct kvm_xcrs xcrs;
		struct kvm_debugregs dbg;
		struct kvm_lapic_state lapic;
		struct kvm_vcpu_events ev;
	} u;
	/* Firecracker's and QEMU's order: MP state, regs (clears pending exceptions), sregs
	 * (the APIC base), FPU/XSAVE, XCRs, debug registers, LAPIC (after the APIC base, before
	 * the MSRs: the TSC deadline MSR needs it), MSRs, events (pending exceptions, NMI, SMI). */
	if (put_struct(fd, KVM_SET_MP_STATE, SEC(s, SNAP_MP_STATE, id), &u, sizeof(u.mp),
		       "KVM_SET_MP_STATE", id, err) < 0 ||
	    put_struct(fd, KVM_SET_REGS, SEC(s, SNAP_REGS, id), &u, sizeof(u.regs), "KVM_SET_REGS",
		       id, err) < 0 ||
	    put_sregs(fd, SEC(s, SNAP_SREGS, id), SEC(s, SNAP_SREGS2, id), id, err) < 0 ||
	    put_struct(fd, KVM_SET_FPU, SEC(s, SNAP_FPU, id), &u, sizeof(u.fpu), "KVM_SET_FPU", id,
		       err) < 0)
		return -1;
	const struct snap_section *xs = SEC(s, SNAP_XSAVE, id);
	if (xs->p) {
		int size = cap(vm->vm_fd, KVM_CAP_XSAVE2);
		if (size < 4096)
			size = cap(vm->kvm_fd, KVM_CAP_XSAVE) ? 4096 : 0;
		if ((uint32_t)size < xs->len)
			return mc_errorf(err, 0,
					 "vCPU %u: the saved XSAVE area (%u bytes) is larger than "
					 "this host's (%d)",
					 id, xs->len, size);
		void *x = calloc(1, (size_t)size);
		if (!x)
			return mc_errorf(err, ENOMEM, "XSAVE");
		memcpy(x, xs->p, xs->len);
		int r = ioctl(fd, KVM_SET_XSAVE, x);
		int e = errno;
		free(x);
		if (r < 0)
			return mc_errorf(err, e, "vCPU %u: KVM_SET_XSAVE", id);
	}
	if (put_struct(fd, KVM_SET_XCRS, SEC(s, SNAP_XCRS, id), &u, sizeof(u.xcrs), "KVM_SET_XCRS",
		       id, err) < 0 ||
	    put_struct(fd, KVM_SET_DEBUGREGS, SEC(s, SNAP_DEBUGREGS, id), &u, sizeof(u.dbg),
		       "KVM_SET_DEBUGREGS", id, err) < 0 ||
	    put_struct(fd, KVM_SET_LAPIC, SEC(s, SNAP_LAPIC, id), &u, sizeof(u.lapic),
		       "KVM_SET_LAPIC", id, err) < 0 ||
	    apply_msrs(fd, id, SEC(s, SNAP_MSRS, id), err) < 0 ||
	    put_struct(fd, KVM_SET_VCPU_EVENTS, SEC(s, SNAP_EVENTS, id), &u, sizeof(u.ev),
		       "KVM_SET_VCPU_EVENTS", id, err) < 0)
		return -1;
	return 0;
}

int snap_apply(const struct snap *s, struct vm *vm, mc_err *err)
{
	if (vm->ncpus != s->ncpus || vm->gm.size != s->mem_size)
		return mc_errorf(err, 0, "snapshot of %u vCPUs and %llu MiB, VM of %u and %llu MiB",
				 s->ncpus, (unsigned long long)(s->mem_size >> 20), vm->ncpus,
				 (unsigned long long)(vm->gm.size >> 20));
	/* The VM's devices first (Firecracker: PIT, clock, irqchip), then each vCPU. */
	if (s->sec[SNAP_PIT][0].p) {
		struct kvm_pit_state2 pit;
		memcpy(&pit, s->sec[SNAP_PIT][0].p, sizeof(pit));
		if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
			return mc_errorf(err, errno, "KVM_SET_PIT2");
	}
	if (s->sec[SNAP_CLOCK][0].p) {
		struct kvm_clock_data clk = {.clock = get64(s->sec[SNAP_CLOCK][0].p)};
		if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clk) < 0)
			return mc_errorf(err, errno, "KVM_SET_CLOCK");
	}
	for (uint32_t c = 0; c < 3; c++) {
		struct kvm_irqchip ic;
		memcpy(&ic, s->sec[SNAP_IRQCHIP][c].p, sizeof(ic));
		if (ic.chip_id != c)
			return mc_errorf(err, 0, "irqchip section %u holds chip %u", c, ic.chip_id);
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &ic) < 0)
			return mc_errorf(err, errno, "KVM_SET_IRQCHIP %u", c);
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (apply_vcpu(s, vm, &vm->vcpus[i], err) < 0)
			return -1;
	const struct snap_section *d = &s->sec[SNAP_DEVICES][0];
	if (devices_load(&vm->devices, d->p, d->len, err) < 0)
		return -1;
	ram_source_fd = s->mem_fd;
	return 0;
}
