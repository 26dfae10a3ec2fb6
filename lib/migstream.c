#include "migstream.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* CRC-32 (IEEE 802.3, zlib's crc32()), slicing by 8: no library for every tool to link. */
static uint32_t crc_tab[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] =
			    (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t mc_crc32(uint32_t crc, const void *buf, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, crc_init);
	const uint8_t *p = buf;
	crc = ~crc;
	while (n && ((uintptr_t)p & 7)) {
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		n--;
	}
	while (n >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo = le32toh(lo) ^ crc;
		hi = le32toh(hi);
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^
		      crc_tab[2][(hi >> 8) & 0xff] ^ crc_tab[1][(hi >> 16) & 0xff] ^
		      crc_tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void mc_ms_init(struct mc_ms *s, int fd)
{
	s->fd = fd;
	s->crc = 0;
	s->frames = 0;
	s->bytes = 0;
	s->crc_frame = s->crc;
	s->len = s->pos = 0;
}

static void account(struct mc_ms *s, const void *p, size_t n)
{
	s->crc = mc_crc32(s->crc, p, n);
	s->bytes += n;
}

int mc_ms_flush(struct mc_ms *s, mc_err *err)
{
	size_t off = 0;
	while (off < s->len) {
		ssize_t w = write(s->fd, s->buf + off, s->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return mc_errorf(err, errno == EAGAIN ? ETIMEDOUT : errno, "stream: send");
		off += (size_t)w;
	}
	s->len = 0;
	return 0;
}

static int put(struct mc_ms *s, const void *p, size_t n, mc_err *err)
{
	const uint8_t *b = p;
	account(s, p, n);
	while (n) {
		if (s->len == sizeof(s->buf) && mc_ms_flush(s, err) < 0)
			return -1;
		size_t c = sizeof(s->buf) - s->len < n ? sizeof(s->buf) - s->len : n;
		memcpy(s->buf + s->len, b, c);
		s->len += c;
		b += c;
		n -= c;
	}
	return 0;
}

int mc_ms_send_hello(struct mc_ms *s, const char magic[MC_MS_MAGIC_LEN], uint32_t version,
		     mc_err *err)
{
	uint32_t v = htole32(version);
	if (put(s, magic, MC_MS_MAGIC_LEN, err) < 0 || put(s, &v, 4, err) < 0)
		return -1;
	return mc_ms_flush(s, err);
}

static int put_header(struct mc_ms *s, uint32_t type, const void *meta, uint32_t meta_len,
		      uint64_t data_len, mc_err *err)
{
	uint8_t h[MC_MS_FRAME_HDR];
	uint32_t t = htole32(type), m = htole32(meta_len);
	uint64_t d = htole64(data_len);
	memcpy(h, &t, 4);
	memcpy(h + 4, &m, 4);
	memcpy(h + 8, &d, 8);
	if (put(s, h, sizeof(h), err) < 0 || (meta_len && put(s, meta, meta_len, err) < 0))
		return -1;
	return 0;
}

int mc_ms_send(struct mc_ms *s, uint32_t type, const void *meta, uint32_t meta_len,
	       const void *data, uint64_t data_len, mc_err *err)
{
	if (put_header(s, type, meta, meta_len, data_len, err) < 0 ||
	    (data_len && put(s, data, data_len, err) < 0))
		return -1;
	s->frames++;
	return 0;
}

int mc_ms_send_fd(struct mc_ms *s, uint32_t type, const void *meta, uint32_t meta_len, int fd,
		  uint64_t data_len, mc_err *err)
{
	if (put_header(s, type, meta, meta_len, data_len, err) < 0)
		return -1;
	uint64_t left = data_len;
	while (left) {
		if (s->len == sizeof(s->buf) && mc_ms_flush(s, err) < 0)
			return -1;
		size_t room = sizeof(s->buf) - s->len;
		size_t want = left < room ? (size_t)left : room;
		ssize_t r = read(fd, s->buf + s->len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mc_errorf(err, errno, "stream: read");
		if (r == 0)
			return mc_errorf(err, 0, "stream: the file shrank while it was sent");
		account(s, s->buf + s->len, (size_t)r);
		s->len += (size_t)r;
		left -= (uint64_t)r;
	}
	s->frames++;
	return 0;
}

int mc_ms_send_end(struct mc_ms *s, mc_err *err)
{
	uint32_t d[2] = {htole32(s->crc), htole32(s->frames)};
	if (put_header(s, MC_MS_END, NULL, 0, sizeof(d), err) < 0 || put(s, d, sizeof(d), err) < 0)
		return -1;
	return mc_ms_flush(s, err);
}

int mc_ms_turn(struct mc_ms *s, mc_err *err)
{
	if (s->pos < s->len)
		return mc_errorf(err, 0, "stream: %zu unexpected bytes", s->len - s->pos);
	s->len = s->pos = 0;
	return 0;
}

/* Receiving: the buffer holds s->len bytes, s->pos of them consumed. */
static int fill(struct mc_ms *s, mc_err *err)
{
	if (s->pos < s->len)
		return 0;
	s->pos = s->len = 0;
	for (;;) {
		ssize_t r = read(s->fd, s->buf, sizeof(s->buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mc_errorf(err, errno == EAGAIN ? ETIMEDOUT : errno,
					 "stream: receive");
		if (r == 0)
			return mc_errorf(err, 0, "stream: the peer closed the connection");
		s->len = (size_t)r;
		return 0;
	}
}

static int get(struct mc_ms *s, void *p, size_t n, mc_err *err)
{
	uint8_t *b = p;
	while (n) {
		if (fill(s, err) < 0)
			return -1;
		size_t c = s->len - s->pos < n ? s->len - s->pos : n;
		memcpy(b, s->buf + s->pos, c);
		account(s, s->buf + s->pos, c);
		s->pos += c;
		b += c;
		n -= c;
	}
	return 0;
}

int mc_ms_recv_hello(struct mc_ms *s, const char magic[MC_MS_MAGIC_LEN], uint32_t version,
		     mc_err *err)
{
	uint8_t h[MC_MS_MAGIC_LEN + 4];
	if (get(s, h, sizeof(h), err) < 0)
		return mc_wrap(err, "hello");
	if (memcmp(h, magic, MC_MS_MAGIC_LEN) != 0)
		return mc_errorf(err, 0, "not a minict migration stream (bad magic)");
	uint32_t v;
	memcpy(&v, h + MC_MS_MAGIC_LEN, 4);
	if (le32toh(v) != version)
		return mc_errorf(err, 0, "stream version %u, this minict speaks %u", le32toh(v),
				 version);
	return 0;
}

int mc_ms_recv_frame(struct mc_ms *s, struct mc_ms_frame *f, void *meta, uint32_t max_meta,
		     mc_err *err)
{
	uint8_t h[MC_MS_FRAME_HDR];
	uint32_t crc_before = s->crc, frames_before = s->frames;
	if (get(s, h, sizeof(h), err) < 0)
		return -1;
	uint32_t t, m;
	uint64_t d;
	memcpy(&t, h, 4);
	memcpy(&m, h + 4, 4);
	memcpy(&d, h + 8, 8);
	f->type = le32toh(t);
	f->meta_len = le32toh(m);
	f->data_len = le64toh(d);
	s->crc_frame = crc_before;
	if (f->meta_len > max_meta)
		return mc_errorf(err, 0, "frame type %u: meta of %u bytes (at most %u)", f->type,
				 f->meta_len, max_meta);
	if (f->meta_len && get(s, meta, f->meta_len, err) < 0)
		return -1;
	if (meta)
		((char *)meta)[f->meta_len] = 0;
	if (f->type != MC_MS_END) {
		s->frames++;
		return 0;
	}
	uint32_t e[2];
	if (f->meta_len != 0 || f->data_len != sizeof(e))
		return mc_errorf(err, 0, "end marker of %u+%llu bytes (want 0+8)", f->meta_len,
				 (unsigned long long)f->data_len);
	if (get(s, e, sizeof(e), err) < 0)
		return -1;
	if (le32toh(e[0]) != crc_before)
		return mc_errorf(err, 0,
				 "the stream's checksum is %08x, the end marker says %08x: "
				 "corrupted in transit",
				 crc_before, le32toh(e[0]));
	if (le32toh(e[1]) != frames_before)
		return mc_errorf(err, 0, "%u frames received, the end marker says %u",
				 frames_before, le32toh(e[1]));
	return 0;
}

int mc_ms_recv_data(struct mc_ms *s, void *buf, size_t n, mc_err *err)
{
	return get(s, buf, n, err);
}

int mc_ms_recv_data_fd(struct mc_ms *s, int fd, uint64_t n, mc_err *err)
{
	while (n) {
		if (fill(s, err) < 0)
			return -1;
		size_t c = s->len - s->pos < n ? s->len - s->pos : (size_t)n;
		const uint8_t *p = s->buf + s->pos;
		account(s, p, c);
		s->pos += c;
		n -= c;
		for (size_t off = 0; off < c;) {
			ssize_t w = write(fd, p + off, c - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return mc_errorf(err, errno, "write");
			off += (size_t)w;
		}
	}
	return 0;
}
