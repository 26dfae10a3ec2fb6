#include "kver.h"

#include <string.h>

#include "cpio.h"

/* The first word of s[0..n) (up to a blank, control byte or the end) into out; 0 when it is
 * empty or does not fit. */
static size_t first_word(const uint8_t *s, size_t n, char *out, size_t max)
{
	size_t k = 0;
	while (k < n && s[k] > ' ' && s[k] < 0x7f)
		k++;
	if (k == 0 || k >= max)
		return 0;
	memcpy(out, s, k);
	out[k] = '\0';
	return k;
}

size_t kver_bzimage(const uint8_t *img, size_t len, char *out, size_t max)
{
	if (max == 0 || len < 0x210 || memcmp(img + 0x202, "HdrS", 4) != 0)
		return 0;
	uint16_t version = (uint16_t)(img[0x206] | img[0x207] << 8);
	uint16_t ptr = (uint16_t)(img[0x20e] | img[0x20f] << 8);
	if (version < 0x0200 || ptr == 0 || (size_t)ptr + 0x200 >= len)
		return 0;
	size_t off = (size_t)ptr + 0x200;
	return first_word(img + off, len - off, out, max);
}

static int hex8(const uint8_t *p, uint32_t *v)
{
	uint32_t x = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10u;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10u;
		else
			return -1;
		x = x << 4 | d;
	}
	*v = x;
	return 0;
}

size_t kver_initrd(const uint8_t *data, size_t len, char *out, size_t max)
{
	size_t off = 0;
	for (unsigned n = 0; n < 100000 && off + CPIO_HDR_LEN <= len; n++) {
		const uint8_t *h = data + off;
		uint32_t filesize, namesize;
		if (memcmp(h, "070701", 6) != 0 || hex8(h + 6 + 6 * 8, &filesize) < 0 ||
		    hex8(h + 6 + 11 * 8, &namesize) < 0 || namesize == 0)
			return 0;
		size_t name_off = off + CPIO_HDR_LEN;
		if (namesize > len - name_off)
			return 0;
		const char *name = (const char *)data + name_off;
		size_t data_off = (name_off + namesize + 3) & ~(size_t)3;
		if (data_off > len || filesize > len - data_off)
			return 0;
		if (name[namesize - 1] != '\0')
			return 0;
		if (strcmp(name, "TRAILER!!!") == 0)
			return 0;
		const char *bare = strncmp(name, "./", 2) == 0 ? name + 2 : name;
		if (strcmp(bare, KVER_INITRD_ENTRY) == 0)
			return first_word(data + data_off, filesize, out, max);
		off = (data_off + filesize + 3) & ~(size_t)3;
	}
	return 0;
}
