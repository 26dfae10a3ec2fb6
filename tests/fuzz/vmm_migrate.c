/* libFuzzer target for minivm's incoming migration stream parser (vmm/migrate.c
 * mig_recv_setup, mig_recv_body, then snap_parse on the state, as `minivm run --incoming` runs
 * them; after a POSTCOPY page bitmap, the post-copy phase's frames (vmm/postcopy.c pc_recv_run,
 * placed as the destination places them) and then the rest as the destination's frames to the
 * source (pc_recv_reply)): whatever the stream holds, nothing is written outside guest RAM (a
 * mapping with inaccessible guard pages on both sides: a stray write faults), no page arrives
 * twice or unasked in post-copy, and nothing is read past the input. Guests over 64 MiB are
 * refused here (the parser checks sizes the same way). Copy-storage: as many disk images as
 * the set-up announces (up to 2; memfds of DISK_SIZE and DISK_SIZE / 2 bytes, as a destination
 * with its --disk images): the DISK frames' writes (mig_disk_recv) never grow an image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/migstream.h"
#include "vmm/mig_disk.h"
#include "vmm/migrate.h"
#include "vmm/postcopy.h"
#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void postcopy_phase(struct mc_ms *rx, uint8_t *ram, uint64_t npages, uint64_t *need,
			   mc_err *err)
{
	static uint8_t buf[PC_BUF];
	struct pc_run run;
	for (int i = 0; i < 4096; i++) {
		if (pc_recv_run(rx, need, npages, buf, &run, err) < 0 || run.end)
			break;
		if (run.n == 0 || run.n > MIG_RUN_MAX || run.first >= npages ||
		    run.n > npages - run.first)
			abort();
		for (uint64_t p = run.first; p < run.first + run.n; p++) {
			if (!(need[p / 64] & (1ull << (p % 64))))
				abort(); /* a page twice, or one not asked for */
			need[p / 64] &= ~(1ull << (p % 64));
		}
		if (run.zero)
			memset(ram + run.first * MIG_PAGE, 0, (size_t)run.n * MIG_PAGE);
		else
			memcpy(ram + run.first * MIG_PAGE, buf, (size_t)run.n * MIG_PAGE);
	}
	mc_error_free(err);
	static struct pc_reply rp;
	for (int i = 0; i < 64 && pc_recv_reply(rx, npages, &rp, err) == 0; i++)
		if (rp.type == MIG_F_PC_REQ && (rp.n == 0 || rp.n > MIG_RUN_MAX ||
						rp.first >= npages || rp.n > npages - rp.first))
			abort();
}
#define DISK_SIZE (1u << 20)

static int disk_fd[2] = {-1, -1};

/* d: su's images, each fresh and zero-filled */
static void disks_open(struct mig_disk_dst *d, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (disk_fd[i] < 0)
			disk_fd[i] = memfd_create("disk", MFD_CLOEXEC);
		if (disk_fd[i] < 0 || ftruncate(disk_fd[i], 0) < 0 ||
		    ftruncate(disk_fd[i], DISK_SIZE >> i) < 0)
			abort();
		mc_err err = NULL;
		if (mig_disk_dst_add(d, dup(disk_fd[i]), DISK_SIZE >> i, "fuzz.img", &err) < 0)
			abort();
	}
}

static void disks_check(struct mig_disk_dst *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		struct stat st;
		if (fstat(disk_fd[i], &st) < 0 || st.st_size != (off_t)(DISK_SIZE >> i))
			abort(); /* a write outside the image */
	}
	mig_disk_dst_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mc_ms rx;
	static struct snap s;
	static int fd = -1;
	if (fd < 0)
		fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	mc_ms_init(&rx, fd);
	mc_err err = NULL;
	struct mig_setup su;
	if (mig_recv_setup(&rx, &su, &err) < 0 || su.mem_size > (64u << 20) || su.disks > 2) {
		mc_error_free(&err);
		return 0;
	}
	size_t guard = 4096, len = su.mem_size + 2 * guard;
	uint8_t *map =
	    mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		abort();
	uint8_t *ram = map + guard;
	if (mprotect(ram, su.mem_size, PROT_READ | PROT_WRITE) < 0)
		abort();
	struct mig_rx_stats st;
	uint8_t *state = NULL;
	size_t slen = 0;
	struct mig_disk_dst dk = {0};
	disks_open(&dk, su.disks);
	if (mig_recv_body(&rx, ram, su.mem_size, &dk, &st, &state, &slen, &err) == 0) {
		if (!state || slen < SNAP_HEADER_LEN || slen > SNAP_STATE_MAX)
			abort();
		if (snap_parse(state, slen, &s, &err) == 0 && s.ncpus > SNAP_MAX_CPUS)
			abort();
		mc_error_free(&err);
		if (st.pc_need)
			postcopy_phase(&rx, ram, su.mem_size / MIG_PAGE, st.pc_need, &err);
		free(st.pc_need);
	}
	disks_check(&dk);
	free(state);
	mc_error_free(&err);
	munmap(map, len);
	return 0;
}
