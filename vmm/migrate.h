/* Live migration, pre-copy over KVM's dirty log (docs/migration.md).
 *
 * Source: the control API's `migrate` starts a thread that connects to the destination, turns
 * on dirty logging, sends every page that holds data (zero pages as markers), then rounds of
 * the pages dirtied meanwhile until what is left fits the downtime target at the measured
 * bandwidth (or a round cap), then pauses the VM, sends the last dirty pages and the snapshot
 * state (docs/snapshot.md), and waits for the destination's acknowledgement that it runs. Any
 * failure before that acknowledgement leaves the source running as before (dirty logging off).
 * The VM is paused and resumed by the event loop's thread, on the migration thread's request.
 *
 * Destination: `minivm run --incoming URI`: mig_incoming_open (listen, accept, read the set-up:
 * the VM's geometry), then the VM is created as for a restore, mig_incoming_receive (memory
 * into its RAM, the state parsed as a snapshot), snap_apply, vm_start, mig_incoming_ack.
 *
 * mig_recv_setup and mig_recv_body are the whole bounds-checked parser of the stream; they need
 * no KVM (tests/fuzz/vmm_migrate.c).
 */
#ifndef MINIVM_MIGRATE_H
#define MINIVM_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MIG_MAGIC	 "MINIVMMG" /* source -> destination */
#define MIG_MAGIC_REPLY	 "MINIVMMA" /* destination -> source */
#define MIG_VERSION	 1u
#define MIG_PAGE	 4096u
#define MIG_RUN_MAX	 256u /* pages in one PAGES frame (1 MiB) */
#define MIG_SETUP_LEN	 32u
#define MIG_META_MAX	 1024u
#define MIG_ROUNDS_KEPT	 64u
#define MIG_MANIFEST_MAX 4096u /* == MANIFEST_MAX */

/* Frame types (lib/migstream frames; 0 is the end frame). */
enum mig_frame {
	MIG_F_SETUP = 1,    /* meta: struct mig_setup as MIG_SETUP_LEN bytes; data: the device
			       manifest (manifest.h), none from an older source */
	MIG_F_PAGES = 2,    /* meta: u64 first page, u32 count, u32 encoding; data: the pages */
	MIG_F_ZERO = 3,	    /* meta: u64 first page, u32 count, u32 0; no data: zero pages */
	MIG_F_ROUND = 4,    /* meta: u32 round, u32 0: a round ends */
	MIG_F_STATE = 5,    /* no meta; data: the snapshot state file (docs/snapshot.md) */
	MIG_F_POSTCOPY = 6, /* meta: u64 pages; data: the bitmap of the pages sent after the
			       switch-over (postcopy.h) */
	MIG_F_DISK = 7,	    /* copy-storage: meta u32 disk, u32 kind, u64 offset, u64 length;
			       data: the bytes, or none for zeros (mig_disk.h) */
	/* destination -> source */
	MIG_F_READY = 16,   /* set up, send the memory */
	MIG_F_ACK = 17,	    /* meta: JSON {"load_ms":...}: the guest runs here now */
	MIG_F_ERR = 18,	    /* meta: the error message */
	MIG_F_PC_REQ = 19,  /* post-copy: meta u64 first page, u32 count, u32 0: send these */
	MIG_F_PC_DONE = 20, /* post-copy: every page is here */
};
enum mig_encoding { MIG_ENC_RAW = 0, MIG_ENC_ZLIB = 1 };

struct mig_setup {
	uint32_t ncpus, flags; /* flags: SNAP_FLAG_PIT */
	uint64_t mem_size;
	uint32_t tsc_khz, page_size;
	uint32_t cpuid_crc;    /* CRC-32 of KVM_GET_SUPPORTED_CPUID's entries */
	uint32_t manifest_len; /* the source's device manifest: 0 none, else checked text */
	uint32_t disks;	       /* copy-storage: the disk images sent (mig_disk.h), 0 none */
	uint8_t manifest[MIG_MANIFEST_MAX];
};

struct mc_ms;
/* The hello and the set-up frame, every field checked (geometry as a snapshot's). */
int mig_recv_setup(struct mc_ms *rx, struct mig_setup *su, mc_err *err);

struct mig_rx_stats {
	uint64_t pages, zero_pages, bytes, rounds;
	uint64_t end_ns; /* when the end frame was checked */
	uint64_t front;	 /* the page after the PAGES frame being received (__atomic: read by
			  * the destination's prefault thread while the body is received) */
	uint64_t *pc_need, pc_pages; /* POSTCOPY: the pages still to come (malloc'd), their
				      * number; NULL: a pre-copy */
};
struct mig_disk_dst;
/* Every frame after the set-up into ram (mem_size bytes): pages (bounds-checked against
 * mem_size), zero markers, round markers, disk blocks into dk's images (copy-storage; dk NULL
 * or without images: DISK frames are refused), then the state (*state, malloc'd, *state_len
 * bytes) and the end frame (the stream's checksum). */
int mig_recv_body(struct mc_ms *rx, uint8_t *ram, uint64_t mem_size, struct mig_disk_dst *dk,
		  struct mig_rx_stats *st, uint8_t **state, size_t *state_len, mc_err *err);

/* ---- destination --------------------------------------------------------------------- */

struct mig_incoming;
/* Listen on uri (tcp:ADDR:PORT, PORT 0 picks one; unix:PATH; fd:N an accepted socket), say
 * where on stderr, accept one connection, read the set-up. */
int mig_incoming_open(const char *uri, struct mig_incoming **out, mc_err *err);
const struct mig_setup *mig_incoming_setup(const struct mig_incoming *in);
struct snap;
struct vm;
/* Check the set-up against this host and vm, say READY, receive the memory into vm's RAM and
 * the state; *snap: the parsed state (snap_close). */
int mig_incoming_receive(struct mig_incoming *in, struct vm *vm, struct snap **snap, mc_err *err);
/* The guest runs: tell the source, close. */
int mig_incoming_ack(struct mig_incoming *in, mc_err *err);
/* Tell the source why we fail (best effort), close, free. Safe with NULL. */
void mig_incoming_close(struct mig_incoming *in, const char *error);

/* ---- source -------------------------------------------------------------------------- */

enum mig_status {
	MIG_NONE,
	MIG_SETUP,
	MIG_ACTIVE,
	MIG_SWITCHOVER,
	MIG_POSTCOPY, /* the guest runs at the destination, pages still go */
	MIG_MIGRATED,
	MIG_FAILED,
	MIG_CANCELLED,
};

struct mig_params {
	char uri[256];
	uint64_t max_downtime_ms; /* default 50 */
	uint64_t bandwidth_mibps; /* 0: unlimited */
	uint32_t max_rounds;	  /* default 30 */
	bool compress;
	bool auto_converge; /* throttle the vCPUs while the guest dirties faster than we send */
	bool postcopy;	    /* not converged at max_rounds: post-copy (postcopy.h) */
	bool postcopy_now;  /* post-copy right after the set-up, no pre-copy pass */
	bool copy_storage;  /* send the disk images too (mig_disk.h) */
};

struct loop;
struct migration;
/* The source side, one per VM: an eventfd in the loop for the thread's requests. done(opaque)
 * runs on the loop's thread when a migration ended (mig_status says how). */
struct migration *mig_new(struct vm *vm, struct loop *l, void (*done)(void *opaque), void *opaque,
			  mc_err *err);
int mig_start(struct migration *m, const struct mig_params *p, mc_err *err);
/* Ask the running migration to stop (before switch-over: the VM goes on). false: none. */
bool mig_cancel(struct migration *m);
/* A migration thread exists (set up, rounds, switch-over). */
bool mig_active(struct migration *m);
/* A post-copy failed after the destination ran the guest: this paused copy is stale and must
 * not resume. */
bool mig_lost(struct migration *m);
enum mig_status mig_status(struct migration *m);
const char *mig_status_name(enum mig_status s);
/* The status and statistics as a JSON object's text (malloc'd). */
char *mig_report_json(struct migration *m);
/* Cancel, wait for the thread, free. Safe with NULL. */
void mig_free(struct migration *m);

#endif
