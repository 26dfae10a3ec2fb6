/* A framed byte stream for migration (docs/checkpoint.md "The stream"): a hello (8-byte magic,
 * u32 version), then frames (u32 type, u32 meta_len, u64 data_len, meta, data), closed by an
 * end frame (type 0) carrying the CRC-32 (zlib's crc32()) of every byte before it and the frame
 * count. Little-endian. Buffered over a file descriptor (a socket or a pipe); the caller sets the
 * socket's timeouts. Nothing here knows what the frames hold. */
#ifndef MINI_MIGSTREAM_H
#define MINI_MIGSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "error.h"

#define MC_MS_END	0u
#define MC_MS_MAGIC_LEN 8
#define MC_MS_FRAME_HDR 16u
#define MC_MS_BUF	(256u << 10)

struct mc_ms {
	int fd;
	uint32_t crc;	    /* of every byte sent or consumed so far */
	uint32_t frames;    /* frames sent or consumed, the end frame not counted */
	uint64_t bytes;	    /* likewise */
	uint32_t crc_frame; /* receiving: crc before the last frame header read */
	size_t len, pos;    /* buffer: bytes held, next to consume (receiving) */
	uint8_t buf[MC_MS_BUF];
};

struct mc_ms_frame {
	uint32_t type, meta_len;
	uint64_t data_len;
};

/* CRC-32 as zlib's crc32(): mc_crc32(0, buf, n), continued with the previous value. */
uint32_t mc_crc32(uint32_t crc, const void *buf, size_t n);

/* s is large (the buffer): allocate it. */
void mc_ms_init(struct mc_ms *s, int fd);

int mc_ms_send_hello(struct mc_ms *s, const char magic[MC_MS_MAGIC_LEN], uint32_t version,
		     mc_err *err);
/* A frame with its data from memory, which may change while it is sent: the checksum covers
 * the bytes as they were copied into the stream's buffer. */
int mc_ms_send(struct mc_ms *s, uint32_t type, const void *meta, uint32_t meta_len,
	       const void *data, uint64_t data_len, mc_err *err);
/* A frame whose data is the next data_len bytes of fd (a file that must not shrink). */
int mc_ms_send_fd(struct mc_ms *s, uint32_t type, const void *meta, uint32_t meta_len, int fd,
		  uint64_t data_len, mc_err *err);
/* The end frame, then flush. */
int mc_ms_send_end(struct mc_ms *s, mc_err *err);
int mc_ms_flush(struct mc_ms *s, mc_err *err);

/* Switch from receiving to sending or back: the buffer is empty then. Unread bytes are an
 * error (the peer sent more than the protocol allows at this point). */
int mc_ms_turn(struct mc_ms *s, mc_err *err);

/* Read the peer's hello; the error says what came instead. */
int mc_ms_recv_hello(struct mc_ms *s, const char magic[MC_MS_MAGIC_LEN], uint32_t version,
		     mc_err *err);
/* The next frame's header and its meta (meta_len <= max_meta, else an error; meta gets a NUL
 * after the bytes, so it needs max_meta + 1 bytes). The data is read next, with
 * mc_ms_recv_data or _fd or _skip, exactly data_len bytes. An end frame is checked here
 * (data_len 8, the crc and the count); EOF before it is an error. */
int mc_ms_recv_frame(struct mc_ms *s, struct mc_ms_frame *f, void *meta, uint32_t max_meta,
		     mc_err *err);
int mc_ms_recv_data(struct mc_ms *s, void *buf, size_t n, mc_err *err);
int mc_ms_recv_data_fd(struct mc_ms *s, int fd, uint64_t n, mc_err *err);

#endif
