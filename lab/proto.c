#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int lab_send(int fd, char type, const void *buf, uint32_t len)
{
	unsigned char hdr[5] = {(unsigned char)type, (unsigned char)len, (unsigned char)(len >> 8),
				(unsigned char)(len >> 16), (unsigned char)(len >> 24)};
	if (len > LAB_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	if (mc_write_all(fd, hdr, sizeof(hdr)) < 0)
		return -1;
	if (len && mc_write_all(fd, buf, len) < 0)
		return -1;
	return 0;
}

int lab_send_str(int fd, char type, const char *s)
{
	size_t n = strlen(s);
	if (n > LAB_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	return lab_send(fd, type, s, (uint32_t)n);
}

int lab_send_u32(int fd, char type, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return lab_send(fd, type, b, 4);
}

int lab_recv(int fd, struct lab_frame *f, mc_err *err)
{
	return lab_recv_max(fd, f, LAB_MAX_PAYLOAD, err);
}

int lab_recv_max(int fd, struct lab_frame *f, uint32_t max, mc_err *err)
{
	unsigned char hdr[5];
	f->data = NULL;
	ssize_t n = mc_read_all(fd, hdr, sizeof(hdr));
	if (n < 0)
		return mc_errorf(err, errno, "read from the lab connection");
	if (n == 0)
		return 0;
	if (n < (ssize_t)sizeof(hdr))
		return mc_errorf(err, 0, "lab connection closed inside a frame header");
	f->type = (char)hdr[0];
	f->len = (uint32_t)hdr[1] | (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3] << 16 |
		 (uint32_t)hdr[4] << 24;
	if (f->len > max)
		return mc_errorf(err, 0, "lab frame of %u bytes exceeds the %u-byte limit", f->len,
				 max);
	f->data = malloc((size_t)f->len + 1);
	if (!f->data)
		return mc_errorf(err, ENOMEM, "lab frame of %u bytes", f->len);
	n = mc_read_all(fd, f->data, f->len);
	if (n < 0 || (uint32_t)n != f->len) {
		int e = n < 0 ? errno : 0;
		lab_frame_free(f);
		return mc_errorf(err, e, "lab connection closed inside a frame");
	}
	f->data[f->len] = '\0';
	return 1;
}

int lab_frame_u32(const struct lab_frame *f, uint32_t *v, mc_err *err)
{
	if (f->len != 4)
		return mc_errorf(err, 0, "lab frame '%c' has %u bytes, expected 4", f->type,
				 f->len);
	const unsigned char *b = (const unsigned char *)f->data;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

void lab_frame_free(struct lab_frame *f)
{
	free(f->data);
	f->data = NULL;
}
