#include "cpio.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CPIO_MAX (256u << 20) /* far beyond what execve takes; keeps sizes in 8 hex digits */

static int reserve(struct cpio *c, size_t more, mc_err *err)
{
	if (more > CPIO_MAX || c->len + more > CPIO_MAX)
		return mc_errorf(err, 0, "argument archive larger than %u MiB", CPIO_MAX >> 20);
	if (c->len + more <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap : 4096;
	while (cap < c->len + more)
		cap *= 2;
	uint8_t *d = realloc(c->data, cap);
	if (!d)
		return mc_errorf(err, 0, "argument archive: out of memory (%zu bytes)", cap);
	c->data = d;
	c->cap = cap;
	return 0;
}

static void put_bytes(struct cpio *c, const void *p, size_t n)
{
	memcpy(c->data + c->len, p, n);
	c->len += n;
}

static void pad4(struct cpio *c)
{
	while (c->len & 3)
		c->data[c->len++] = 0;
}

int cpio_add(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t len,
	     mc_err *err)
{
	size_t namesize = strlen(name) + 1;
	if (len > CPIO_MAX || namesize > 4096)
		return mc_errorf(err, 0, "cpio entry `%s`: too large", name);
	if (reserve(c, CPIO_HDR_LEN + namesize + 3 + len + 3, err) < 0)
		return -1;
	char hdr[CPIO_HDR_LEN + 1];
	/* magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
	 * namesize check */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ++c->ino, mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u, (unsigned)len, 0u, 0u, 0u, 0u,
		 (unsigned)namesize, 0u);
	put_bytes(c, hdr, CPIO_HDR_LEN);
	put_bytes(c, name, namesize);
	pad4(c);
	if (len && data)
		put_bytes(c, data, len);
	pad4(c);
	return 0;
}

int cpio_finish(struct cpio *c, mc_err *err)
{
	c->ino = (uint32_t)-1; /* the trailer's inode is 0 */
	return cpio_add(c, "TRAILER!!!", 0, "", 0, err);
}

void cpio_free(struct cpio *c)
{
	free(c->data);
	*c = (struct cpio){0};
}

/* The strings, each followed by a NUL, into one malloc'd buffer. */
static int join(char *const *v, size_t n, bool need_eq, char **out, size_t *len, mc_err *err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (need_eq && (!strchr(v[i], '=') || v[i][0] == '='))
			return mc_errorf(err, 0, "environment entry `%s` is not NAME=VALUE", v[i]);
		total += strlen(v[i]) + 1;
		if (total > CPIO_MAX)
			return mc_errorf(err, 0, "more than %u MiB of arguments or environment",
					 CPIO_MAX >> 20);
	}
	char *buf = malloc(total ? total : 1);
	if (!buf)
		return mc_errorf(err, 0, "out of memory (%zu bytes)", total);
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;
		memcpy(buf + off, v[i], l);
		off += l;
	}
	*out = buf;
	*len = total;
	return 0;
}

int boot_args_archive(char *const *args, size_t nargs, char *const *env, size_t nenv,
		      struct cpio *out, mc_err *err)
{
	char *a = NULL, *e = NULL;
	size_t alen = 0, elen = 0;
	*out = (struct cpio){0};
	int r = -1;
	if (join(args, nargs, false, &a, &alen, err) < 0 ||
	    join(env, nenv, true, &e, &elen, err) < 0)
		goto done;
	if (cpio_add(out, BOOT_ARGS_DIR, S_IFDIR | 0755, "", 0, err) < 0 ||
	    cpio_add(out, BOOT_ARGV_FILE, S_IFREG | 0444, a, alen, err) < 0 ||
	    cpio_add(out, BOOT_ENV_FILE, S_IFREG | 0444, e, elen, err) < 0 ||
	    cpio_finish(out, err) < 0)
		goto done;
	r = 0;
done:
	free(a);
	free(e);
	if (r < 0)
		cpio_free(out);
	return r;
}
