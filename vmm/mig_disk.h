/* Copy-storage live migration: the guest's disk images go with its memory (docs/migration.md,
 * "Copy-storage").
 *
 * Source: every virtio-blk image is opened again for reading; virtio-blk marks the blocks the
 * guest writes (virtio/blk_dirty.h) from before the first pass. The first pass walks each image
 * by SEEK_DATA/SEEK_HOLE: holes and all-zero blocks go as zero markers, the rest as data; then
 * each round takes the blocks written meanwhile and sends them (interleaved with the memory's
 * rounds, migrate.c), and the last ones go during the downtime, after vm_pause drained the
 * requests in flight.
 *
 * Destination: `--disk` names each image (a fresh sparse file of the source's size will do); it
 * is opened for writing before READY, every DISK frame is checked against its size and written
 * with pwrite (zero markers punch a hole or write zeros), and the images are fsynced before the
 * guest resumes.
 *
 * The DISK frame (migrate.h MIG_F_DISK): meta 24 bytes, u32 disk (the virtio-blk devices in
 * order), u32 kind (0 data, 1 zeros), u64 offset, u64 length (bytes, multiples of 512, inside
 * the image); data: the length's bytes (data, at most MIG_DISK_RUN_MAX) or none (zeros).
 *
 * mig_disk_dst_add and mig_disk_recv need no KVM (tests/fuzz/vmm_migrate.c, the unit tests).
 */
#ifndef MINIVM_MIG_DISK_H
#define MINIVM_MIG_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define MIG_DISK_META	 24u
#define MIG_DISK_SECTOR	 512u
#define MIG_DISK_RUN_MAX (1u << 20) /* data bytes in one DISK frame */
#define MIG_DISKS_MAX	 16u
enum { MIG_DISK_DATA = 0, MIG_DISK_ZERO = 1 };

struct mc_ms;
struct mc_ms_frame;
struct vm;
struct blk_dirty;

/* ---- destination --------------------------------------------------------------------- */

struct mig_disk_dst {
	unsigned n;
	int fd[MIG_DISKS_MAX];
	uint64_t size[MIG_DISKS_MAX];
	char path[MIG_DISKS_MAX][256];
	uint8_t *buf; /* MIG_DISK_RUN_MAX */
	uint64_t data_bytes, zero_bytes, frames;
	uint64_t unflushed; /* data bytes written since the last writeback was started */
};

struct manifest;
/* Before the manifest's check: each of vm's images has the size the source's manifest gives
 * its device (the error names the image and the size to give it). */
int mig_disk_dst_check(const struct manifest *man, struct vm *vm, mc_err *err);
/* Open vm's virtio-blk images for writing; the source announced want disks (its set-up). */
int mig_disk_dst_open(struct mig_disk_dst *d, struct vm *vm, uint32_t want, mc_err *err);
/* One image: fd (taken: closed by mig_disk_dst_close) of size bytes, named path. */
int mig_disk_dst_add(struct mig_disk_dst *d, int fd, uint64_t size, const char *path, mc_err *err);
/* A DISK frame whose header and meta were read (f, meta): check it, receive its data, write
 * it into its image. */
int mig_disk_recv(struct mig_disk_dst *d, struct mc_ms *rx, const struct mc_ms_frame *f,
		  const uint8_t *meta, mc_err *err);
/* Every image on stable storage (fdatasync): at each round marker (the writes of the rounds
 * so far leave the downtime), and before the guest resumes. Writeback is also started every
 * MIG_DISK_WRITEBACK bytes of data as they arrive (sync_file_range), so the waits are short. */
#define MIG_DISK_WRITEBACK (8u << 20)
int mig_disk_dst_sync(struct mig_disk_dst *d, mc_err *err);
void mig_disk_dst_close(struct mig_disk_dst *d);

/* ---- source -------------------------------------------------------------------------- */

struct mig_disk_src {
	unsigned n;
	struct {
		int fd;
		uint64_t size;
		struct blk_dirty *dirty;
		uint64_t *pending; /* blocks taken from dirty, to send */
		const char *path;
	} d[MIG_DISKS_MAX];
	uint8_t *buf;
	/* after each frame: cancel and the bandwidth cap (limit: a round before the pause) */
	int (*after)(void *opaque, bool limit, mc_err *err);
	void *opaque;
	struct { /* a zero run not sent yet */
		bool open;
		unsigned disk;
		uint64_t off, len;
	} z;
	uint64_t data_bytes, zero_bytes; /* sent as data, as zero markers */
};

/* Open vm's virtio-blk images for reading (none: s->n == 0). */
int mig_disk_src_open(struct mig_disk_src *s, struct vm *vm, mc_err *err);
/* Tracking of the guest's writes on (before the first pass) or off. */
void mig_disk_track(struct mig_disk_src *s, bool on);
/* The first pass: every image, holes and zero blocks as markers. */
int mig_disk_send_all(struct mig_disk_src *s, struct mc_ms *tx, mc_err *err);
/* Take the blocks written since the last call; returns the bytes pending. */
uint64_t mig_disk_collect(struct mig_disk_src *s);
/* Send the pending blocks; *bytes: how many bytes of the images they cover. */
int mig_disk_send_pending(struct mig_disk_src *s, struct mc_ms *tx, bool limit, uint64_t *bytes,
			  mc_err *err);
/* Tracking off, close. Safe on a zeroed struct. */
void mig_disk_src_close(struct mig_disk_src *s);

#endif
