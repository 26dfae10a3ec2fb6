/* Post-copy live migration (docs/migration.md "Post-copy"): a pre-copy that does not converge
 * (the round cap reached with more left than the downtime target) switches to post-copy when
 * `migrate --postcopy` asked for it. The source pauses the guest and sends the bitmap of the
 * pages not yet sent (POSTCOPY), the state and the end frame; the destination drops those pages
 * from its RAM, registers RAM with userfaultfd (missing pages), starts the vCPUs at once and
 * acknowledges. From then on a fault thread asks the source for every page that is faulted on
 * and missing (with the pages after it: PC_REQ), the source sends asked-for pages first and the
 * rest in the background, the destination places them with UFFDIO_COPY (UFFDIO_ZEROPAGE for zero
 * pages and for pages that were never written), and once the source sent every page and a
 * second end frame, the destination unregisters RAM and answers PC_DONE.
 *
 * pc_recv_need, pc_recv_run and pc_recv_reply are the bounds-checked parsers of the new frames
 * (no KVM, no userfaultfd: tests/fuzz/vmm_migrate.c). */
#ifndef MINIVM_POSTCOPY_H
#define MINIVM_POSTCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PC_REQ_AHEAD 16u /* pages asked for with a faulted one (the fault's own included) */
#define PC_BG_RUN    32u /* pages in one background frame (a request waits at most this) */
#define PC_SNDQ_MAX                                                                                \
	(256u << 10)	  /* bytes the source lets wait in its socket, and the                     \
			   * destination's SO_RCVBUF, while post-copy runs */
#define PC_DONE_WAIT  30u /* s: the source waits this long for PC_DONE after its end frame */
#define PC_STALL_WAIT 10u /* s: ... and this long for the destination to read anything */
#define PC_FATAL_WAIT 2u  /* s: after a fatal error, minivm exits this long after at the latest */

struct mc_ms;
struct mc_ms_frame;
struct vm;

/* ---- parsers ------------------------------------------------------------------------ */

/* The POSTCOPY frame whose header and meta mig_recv_body read (f, meta): meta u64 pages; data
 * the bitmap of the pages the destination gets in post-copy, (npages + 63) / 64 little-endian
 * u64 words, no bit at or past npages, exactly `pages` bits set. *need: malloc'd bitmap. */
int pc_recv_need(struct mc_ms *rx, const struct mc_ms_frame *f, const uint8_t *meta,
		 uint64_t npages, uint64_t **need, uint64_t *pages, mc_err *err);

/* One frame of the post-copy phase (source -> destination, after the first end frame): a run of
 * pages (PAGES, raw, into buf: PC_BUF bytes) or of zero pages (ZERO), each page one that need
 * still has set; or the end frame (end true). */
#define PC_BUF (256u * 4096u)
struct pc_run {
	uint64_t first;
	uint32_t n;
	bool zero, end;
};
int pc_recv_run(struct mc_ms *rx, const uint64_t *need, uint64_t npages, uint8_t *buf,
		struct pc_run *run, mc_err *err);

/* One frame from the destination while post-copy runs: PC_REQ (meta u64 first page, u32
 * count 1..256, u32 0, within npages), ACK (meta: JSON text), PC_DONE, or ERR (an error with
 * its message). */
struct pc_reply {
	uint32_t type; /* MIG_F_PC_REQ, MIG_F_ACK or MIG_F_PC_DONE */
	uint64_t first;
	uint32_t n;
	char meta[1025];
};
int pc_recv_reply(struct mc_ms *rx, uint64_t npages, struct pc_reply *r, mc_err *err);

/* ---- source ------------------------------------------------------------------------- */

/* Post-copy right away: every page of ram that may hold data (snap_scan_maybe_data) into
 * pending. */
void pc_mark_data(const uint8_t *ram, uint64_t npages, uint64_t *pending);

struct pc_src {
	/* in */
	const uint8_t *ram;
	uint64_t npages;
	uint64_t *pending; /* the pages to send in post-copy; cleared as they go */
	struct mc_ms *tx, *rx;
	int sock;
	uint64_t limit_bps; /* the background push's bandwidth, 0: none */
	/* the ACK arrived: the destination runs the guest (meta: its JSON) */
	void (*on_ack)(void *opaque, const char *meta);
	void *opaque;
	/* out */
	bool acked;
	uint64_t pages, zero_pages, requests, asked_pages, bytes, ack_ns, done_ns;
};
/* Paused guest: send POSTCOPY (the pending bitmap), STATE (state, len) and the end frame, then
 * serve requests and push the rest until every page went, send the second end frame and wait
 * for PC_DONE. A failure with s->acked false leaves the guest the source's (resume it); with it
 * true the guest ran at the destination: it is lost. */
int pc_src_run(struct pc_src *s, const void *state, size_t len, mc_err *err);

/* ---- destination -------------------------------------------------------------------- */

struct pc_dest;
/* After the first end frame, before the state is applied: drop the need pages from vm's RAM,
 * register RAM with userfaultfd, start the fault thread (requests on tx, its sends locked) and
 * the receiver (rx). The connection (fd, rx, tx) is the post-copy's from here on. */
int pc_dest_start(struct vm *vm, int fd, struct mc_ms *rx, struct mc_ms *tx, uint64_t *need,
		  uint64_t need_pages, struct pc_dest **out, mc_err *err);
/* Send ACK (meta) under the stream's lock: the guest runs here; a failure from now on ends
 * minivm (the guest's memory is partly at the source). */
int pc_dest_ack(struct pc_dest *pc, const char *meta, mc_err *err);
/* A file to remove (the API socket) if a fatal post-copy error has to exit minivm. */
void pc_dest_fatal_unlink(const char *path);
/* Before the ACK (a failure here): stop the threads, unregister, free (the caller closes the
 * connection and frees rx/tx). After the ACK the post-copy's threads own everything and free
 * it when done: this only lets go. Safe with NULL. */
void pc_dest_release(struct pc_dest *pc);

#endif
