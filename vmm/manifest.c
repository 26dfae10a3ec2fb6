/* The device manifest (manifest.h). */
#include "manifest.h"

#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/virtio.h"
#include "vm.h"

/* One device's line: its name and what must match. */
static void line_of(struct device *d, char *out, size_t max)
{
	int n = snprintf(out, max, "%s", d->name);
	if (n < 0 || (size_t)n >= max || strncmp(d->name, "virtio", 6) != 0)
		return;
	struct virtio_dev *vd = (struct virtio_dev *)d; /* every "virtio*" device is one */
	uint8_t c[8] = {0};
	switch (vd->device_id) {
	case VIRTIO_ID_BLOCK:
		virtio_lock(vd);
		virtio_config_read(vd, 0, c, 8); /* capacity in 512-byte sectors */
		virtio_unlock(vd);
		snprintf(out + n, max - (size_t)n, " sectors=%llu ro=%d",
			 (unsigned long long)get64(c), (int)(vd->features >> VIRTIO_BLK_F_RO & 1));
		break;
	case VIRTIO_ID_NET:
		virtio_lock(vd);
		virtio_config_read(vd, 0, c, 4);
		virtio_config_read(vd, 4, c + 4, 2);
		virtio_unlock(vd);
		snprintf(out + n, max - (size_t)n, " mac=%02x:%02x:%02x:%02x:%02x:%02x", c[0], c[1],
			 c[2], c[3], c[4], c[5]);
		break;
	case VIRTIO_ID_CONSOLE:
		snprintf(out + n, max - (size_t)n, " tty=%d", virtio_console_tty(d));
		break;
	default:
		break;
	}
}

int manifest_write(struct vm *vm, char *buf, size_t max, mc_err *err)
{
	size_t len = 0;
	if (max)
		buf[0] = 0;
	for (unsigned i = 0; i < vm->devices.n; i++) {
		char l[MANIFEST_LINE_MAX];
		line_of(vm->devices.d[i], l, sizeof(l));
		size_t k = strlen(l);
		if (len + k + 2 > max)
			return mc_errorf(err, 0, "device manifest: more than %zu bytes", max);
		memcpy(buf + len, l, k);
		buf[len + k] = '\n';
		len += k + 1;
		buf[len] = 0;
	}
	return (int)len;
}

/* The name part of a line (up to the first space). */
static size_t name_len(const char *l)
{
	const char *sp = strchr(l, ' ');
	return sp ? (size_t)(sp - l) : strlen(l);
}

int manifest_parse(const uint8_t *buf, size_t len, struct manifest *m, mc_err *err)
{
	memset(m, 0, sizeof(*m));
	if (len > MANIFEST_MAX)
		return mc_errorf(err, 0, "device manifest: %zu bytes (at most %u)", len,
				 MANIFEST_MAX);
	size_t at = 0;
	while (at < len) {
		const uint8_t *nl = memchr(buf + at, '\n', len - at);
		if (!nl)
			return mc_errorf(err, 0, "device manifest: last line not terminated");
		size_t k = (size_t)(nl - (buf + at));
		if (k == 0 || k >= MANIFEST_LINE_MAX)
			return mc_errorf(err, 0, "device manifest: line %u of %zu bytes", m->n + 1,
					 k);
		if (m->n == DEVICES_MAX)
			return mc_errorf(err, 0, "device manifest: more than %d devices",
					 DEVICES_MAX);
		for (size_t i = 0; i < k; i++)
			if (buf[at + i] < 0x20 || buf[at + i] > 0x7e)
				return mc_errorf(err, 0,
						 "device manifest: line %u: byte 0x%02x is not "
						 "printable",
						 m->n + 1, buf[at + i]);
		char *l = m->line[m->n];
		memcpy(l, buf + at, k);
		l[k] = 0;
		size_t nlen = name_len(l);
		if (nlen == 0)
			return mc_errorf(err, 0, "device manifest: line %u has no name", m->n + 1);
		for (unsigned j = 0; j < m->n; j++)
			if (name_len(m->line[j]) == nlen && memcmp(m->line[j], l, nlen) == 0)
				return mc_errorf(err, 0, "device manifest: `%.*s` twice", (int)nlen,
						 l);
		if (nlen == strlen("virtio-console") && memcmp(l, "virtio-console", nlen) == 0) {
			m->console = true;
			m->tty = strstr(l, " tty=1") != NULL;
		}
		m->n++;
		at += k + 1;
	}
	return 0;
}

/* What to give on this side for a device the other side has. */
static const char *hint(const char *name)
{
	if (strncmp(name, "virtio-blk", 10) == 0)
		return "the same --disk options, in the same order";
	if (strncmp(name, "virtio-net", 10) == 0)
		return "the same --net options (the same mac=), in the same order";
	if (strcmp(name, "virtio-console") == 0)
		return "the same console (-t or not)";
	return "the same minivm version";
}

int manifest_check(const struct manifest *want, struct vm *vm, const char *what, mc_err *err)
{
	bool seen[DEVICES_MAX] = {0};
	for (unsigned i = 0; i < vm->devices.n; i++) {
		char l[MANIFEST_LINE_MAX];
		line_of(vm->devices.d[i], l, sizeof(l));
		size_t nl = name_len(l);
		unsigned j = 0;
		while (j < want->n &&
		       !(name_len(want->line[j]) == nl && memcmp(want->line[j], l, nl) == 0))
			j++;
		if (j == want->n)
			return mc_errorf(err, 0,
					 "device %.*s is here but not in %s (`%s`): give %s as "
					 "there",
					 (int)nl, l, what, l, hint(l));
		if (strcmp(want->line[j], l) != 0)
			return mc_errorf(err, 0,
					 "device %.*s differs: %s has `%s`, this VM `%s`: give %s",
					 (int)nl, l, what, want->line[j], l, hint(l));
		seen[j] = true;
	}
	for (unsigned j = 0; j < want->n; j++)
		if (!seen[j])
			return mc_errorf(err, 0,
					 "device %.*s is in %s (`%s`) but not here: give %s",
					 (int)name_len(want->line[j]), want->line[j], what,
					 want->line[j], hint(want->line[j]));
	return 0;
}
