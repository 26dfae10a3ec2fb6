/* Copy-storage live migration (mig_disk.h, docs/migration.md "Copy-storage"). */
#include "mig_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "manifest.h"
#include "migrate.h"
#include "migstream.h"
#include "virtio/blk.h"
#include "virtio/blk_dirty.h"
#include "vm.h"

/* A realized virtio-blk device's image opened again (flags: O_RDONLY or O_WRONLY); *bd its
 * bitmap of written blocks, whose size is the image's. */
static int open_image(struct device *dev, int flags, struct blk_dirty **bd, mc_err *err)
{
	const char *path = virtio_blk_path(dev);
	if (!(*bd = virtio_blk_dirty(dev)))
		return mc_errorf(err, 0, "copy-storage: %s is not set up", dev->name);
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "copy-storage: open `%s` (%s)%s", path, dev->name,
				 flags == O_WRONLY ? " for writing" : "");
	return fd;
}

/* ---- destination --------------------------------------------------------------------- */

int mig_disk_dst_add(struct mig_disk_dst *d, int fd, uint64_t size, const char *path, mc_err *err)
{
	if (d->n == MIG_DISKS_MAX) {
		close(fd);
		return mc_errorf(err, 0, "copy-storage: more than %u disks", MIG_DISKS_MAX);
	}
	if (!d->buf && !(d->buf = malloc(MIG_DISK_RUN_MAX))) {
		close(fd);
		return mc_errorf(err, ENOMEM, "copy-storage: buffer");
	}
	d->fd[d->n] = fd;
	d->size[d->n] = size;
	snprintf(d->path[d->n], sizeof(d->path[0]), "%s", path);
	d->n++;
	return 0;
}

int mig_disk_dst_check(const struct manifest *man, struct vm *vm, mc_err *err)
{
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct device *dev = vm->devices.d[i];
		struct blk_dirty *bd;
		if (!virtio_blk_is(dev) || !(bd = virtio_blk_dirty(dev)))
			continue;
		size_t nl = strlen(dev->name);
		for (unsigned j = 0; j < man->n; j++) {
			const char *l = man->line[j], *sec = strstr(l, " sectors=");
			unsigned long long want;
			if (strncmp(l, dev->name, nl) != 0 || l[nl] != ' ' || !sec ||
			    sscanf(sec, " sectors=%llu", &want) != 1)
				continue;
			if (want * MIG_DISK_SECTOR != bd->size)
				return mc_errorf(
				    err, 0,
				    "copy-storage: the image `%s` (%s) is %llu bytes, "
				    "the source's is %llu: make it that size (truncate "
				    "-s %llu)",
				    virtio_blk_path(dev), dev->name, (unsigned long long)bd->size,
				    want * MIG_DISK_SECTOR, want * MIG_DISK_SECTOR);
		}
	}
	return 0;
}

int mig_disk_dst_open(struct mig_disk_dst *d, struct vm *vm, uint32_t want, mc_err *err)
{
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct device *dev = vm->devices.d[i];
		struct blk_dirty *bd;
		int fd;
		if (!virtio_blk_is(dev))
			continue;
		if ((fd = open_image(dev, O_WRONLY, &bd, err)) < 0 ||
		    mig_disk_dst_add(d, fd, bd->size, virtio_blk_path(dev), err) < 0)
			return -1;
	}
	if (d->n != want)
		return mc_errorf(err, 0,
				 "copy-storage: the source sends %u disk images, this VM has %u "
				 "(give the same --disk options, in the same order)",
				 want, d->n);
	return 0;
}

/* [off, off + len) of fd reads as zeros afterwards. */
static int zero_range(struct mig_disk_dst *d, int fd, uint64_t off, uint64_t len, mc_err *err)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ==
		0 ||
	    fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	memset(d->buf, 0, MIG_DISK_RUN_MAX);
	while (len) {
		size_t n = len < MIG_DISK_RUN_MAX ? (size_t)len : MIG_DISK_RUN_MAX;
		ssize_t w = pwrite(fd, d->buf, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return mc_errorf(err, w < 0 ? errno : EIO, "write zeros at byte %llu",
					 (unsigned long long)off);
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

int mig_disk_recv(struct mig_disk_dst *d, struct mc_ms *rx, const struct mc_ms_frame *f,
		  const uint8_t *meta, mc_err *err)
{
	if (f->meta_len != MIG_DISK_META)
		return mc_errorf(err, 0, "disk frame: meta of %u bytes, want %u", f->meta_len,
				 MIG_DISK_META);
	uint32_t disk = get32(meta), kind = get32(meta + 4);
	uint64_t off = get64(meta + 8), len = get64(meta + 16);
	if (disk >= d->n)
		return mc_errorf(err, 0, "disk frame: disk %u, but %u disk image%s announced", disk,
				 d->n, d->n == 1 ? " was" : "s were");
	uint64_t size = d->size[disk];
	if (len == 0 || off % MIG_DISK_SECTOR || len % MIG_DISK_SECTOR)
		return mc_errorf(err, 0,
				 "disk frame (disk %u): bytes %llu+%llu are not whole sectors",
				 disk, (unsigned long long)off, (unsigned long long)len);
	if (off >= size || len > size - off)
		return mc_errorf(err, 0,
				 "disk frame (disk %u): bytes %llu+%llu outside the image `%s` "
				 "(%llu bytes)",
				 disk, (unsigned long long)off, (unsigned long long)len,
				 d->path[disk], (unsigned long long)size);
	if (kind == MIG_DISK_ZERO) {
		if (f->data_len != 0)
			return mc_errorf(err, 0,
					 "disk frame (disk %u): zeros with %llu bytes of data",
					 disk, (unsigned long long)f->data_len);
		if (zero_range(d, d->fd[disk], off, len, err) < 0)
			return mc_wrap(err, "copy-storage: `%s`", d->path[disk]);
		d->zero_bytes += len;
		d->frames++;
		return 0;
	}
	if (kind != MIG_DISK_DATA)
		return mc_errorf(err, 0, "disk frame (disk %u): unknown kind %u", disk, kind);
	if (len > MIG_DISK_RUN_MAX || f->data_len != len)
		return mc_errorf(err, 0,
				 "disk frame (disk %u): %llu bytes of data for %llu bytes (at most "
				 "%u)",
				 disk, (unsigned long long)f->data_len, (unsigned long long)len,
				 MIG_DISK_RUN_MAX);
	if (mc_ms_recv_data(rx, d->buf, (size_t)len, err) < 0)
		return -1;
	for (uint64_t done = 0; done < len;) {
		ssize_t w =
		    pwrite(d->fd[disk], d->buf + done, (size_t)(len - done), (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return mc_errorf(err, w < 0 ? errno : EIO,
					 "copy-storage: write `%s` at byte %llu", d->path[disk],
					 (unsigned long long)(off + done));
		done += (uint64_t)w;
	}
	d->data_bytes += len;
	d->frames++;
	d->unflushed += len;
	if (d->unflushed >= MIG_DISK_WRITEBACK) { /* start writing back, do not wait */
		for (unsigned i = 0; i < d->n; i++)
			sync_file_range(d->fd[i], 0, 0, SYNC_FILE_RANGE_WRITE);
		d->unflushed = 0;
	}
	return 0;
}

int mig_disk_dst_sync(struct mig_disk_dst *d, mc_err *err)
{
	for (unsigned i = 0; i < d->n; i++)
		if (fdatasync(d->fd[i]) < 0)
			return mc_errorf(err, errno, "copy-storage: fdatasync `%s`", d->path[i]);
	return 0;
}

void mig_disk_dst_close(struct mig_disk_dst *d)
{
	for (unsigned i = 0; i < d->n; i++)
		close(d->fd[i]);
	d->n = 0;
	free(d->buf);
	d->buf = NULL;
}

/* ---- source -------------------------------------------------------------------------- */

int mig_disk_src_open(struct mig_disk_src *s, struct vm *vm, mc_err *err)
{
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct device *dev = vm->devices.d[i];
		if (!virtio_blk_is(dev))
			continue;
		if (s->n == MIG_DISKS_MAX)
			return mc_errorf(err, 0, "copy-storage: more than %u disks", MIG_DISKS_MAX);
		/* Not O_DIRECT: the page cache holds the guest's buffered writes, and a direct
		 * write invalidates what it caches. */
		struct blk_dirty *bd;
		int fd = open_image(dev, O_RDONLY, &bd, err);
		if (fd < 0)
			return -1;
		s->d[s->n].fd = fd;
		s->d[s->n].size = bd->size;
		s->d[s->n].dirty = bd;
		s->d[s->n].path = virtio_blk_path(dev);
		s->d[s->n].pending = calloc(blk_dirty_words(bd) ? blk_dirty_words(bd) : 1, 8);
		s->n++;
		if (!s->d[s->n - 1].pending)
			return mc_errorf(err, ENOMEM, "copy-storage: bitmap");
	}
	if (s->n && !(s->buf = malloc(MIG_DISK_RUN_MAX)))
		return mc_errorf(err, ENOMEM, "copy-storage: buffer");
	return 0;
}

void mig_disk_track(struct mig_disk_src *s, bool on)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (on)
			blk_dirty_start(s->d[i].dirty);
		else
			blk_dirty_stop(s->d[i].dirty);
	}
}

static int send_frame(struct mig_disk_src *s, struct mc_ms *tx, unsigned disk, uint32_t kind,
		      uint64_t off, uint64_t len, const uint8_t *data, bool limit, mc_err *err)
{
	uint8_t meta[MIG_DISK_META];
	put32(meta, disk);
	put32(meta + 4, kind);
	put64(meta + 8, off);
	put64(meta + 16, len);
	if (mc_ms_send(tx, MIG_F_DISK, meta, sizeof(meta), data, data ? len : 0, err) < 0)
		return -1;
	if (kind == MIG_DISK_DATA)
		s->data_bytes += len;
	else
		s->zero_bytes += len;
	return s->after ? s->after(s->opaque, limit, err) : 0;
}

static int zero_flush(struct mig_disk_src *s, struct mc_ms *tx, bool limit, mc_err *err)
{
	if (!s->z.open)
		return 0;
	s->z.open = false;
	return send_frame(s, tx, s->z.disk, MIG_DISK_ZERO, s->z.off, s->z.len, NULL, limit, err);
}

/* [off, off + len) of a disk reads as zeros: extend the open zero run, or start one. */
static int zero_add(struct mig_disk_src *s, struct mc_ms *tx, unsigned disk, uint64_t off,
		    uint64_t len, bool limit, mc_err *err)
{
	if (s->z.open && s->z.disk == disk && s->z.off + s->z.len == off) {
		s->z.len += len;
		return 0;
	}
	if (zero_flush(s, tx, limit, err) < 0)
		return -1;
	s->z.open = true;
	s->z.disk = disk;
	s->z.off = off;
	s->z.len = len;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Read [off, off + len) (len <= MIG_DISK_RUN_MAX) of a disk and send it: zero blocks into the
 * zero run, the others as data frames. */
static int send_range(struct mig_disk_src *s, struct mc_ms *tx, unsigned disk, uint64_t off,
		      uint64_t len, bool limit, mc_err *err)
{
	for (uint64_t done = 0; done < len;) {
		ssize_t r =
		    pread(s->d[disk].fd, s->buf + done, (size_t)(len - done), (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mc_errorf(err, errno, "copy-storage: read `%s` at byte %llu",
					 s->d[disk].path, (unsigned long long)(off + done));
		if (r == 0)
			return mc_errorf(err, 0, "copy-storage: `%s` shrank to %llu bytes",
					 s->d[disk].path, (unsigned long long)(off + done));
		done += (uint64_t)r;
	}
	uint64_t data_at = 0, data_len = 0; /* a data run in the buffer */
	for (uint64_t at = 0; at < len; at += BLK_DIRTY_BLOCK) {
		uint64_t n = len - at < BLK_DIRTY_BLOCK ? len - at : BLK_DIRTY_BLOCK;
		if (!all_zero(s->buf + at, (size_t)n)) {
			if (!data_len) {
				if (zero_flush(s, tx, limit, err) < 0)
					return -1;
				data_at = at;
			}
			data_len += n;
			continue;
		}
		if (data_len && send_frame(s, tx, disk, MIG_DISK_DATA, off + data_at, data_len,
					   s->buf + data_at, limit, err) < 0)
			return -1;
		data_len = 0;
		if (zero_add(s, tx, disk, off + at, n, limit, err) < 0)
			return -1;
	}
	if (data_len && send_frame(s, tx, disk, MIG_DISK_DATA, off + data_at, data_len,
				   s->buf + data_at, limit, err) < 0)
		return -1;
	return 0;
}

int mig_disk_send_all(struct mig_disk_src *s, struct mc_ms *tx, mc_err *err)
{
	const uint64_t B = BLK_DIRTY_BLOCK;
	for (unsigned i = 0; i < s->n; i++) {
		uint64_t size = s->d[i].size, off = 0; /* off: a block boundary */
		int fd = s->d[i].fd;
		while (off < size) {
			/* The next extent that may hold data, widened to whole blocks. Without
			 * SEEK_DATA (EINVAL: a block device, some file systems): all of it. */
			bool seek = true;
			uint64_t d = off, h = size;
			off_t dpos = lseek(fd, (off_t)off, SEEK_DATA);
			if (dpos >= 0)
				d = (uint64_t)dpos & ~(B - 1);
			else if (errno == ENXIO)
				d = size; /* only holes from off on */
			else
				seek = false;
			if (d < off)
				d = off;
			if (d > size)
				d = size;
			if (d > off && zero_add(s, tx, i, off, d - off, true, err) < 0)
				return -1;
			if (d == size)
				break;
			if (seek) {
				off_t hpos = lseek(fd, (off_t)d, SEEK_HOLE);
				h = hpos < 0 ? size : ((uint64_t)hpos + B - 1) & ~(B - 1);
			}
			if (h > size)
				h = size;
			if (h <= d)
				h = size - d < B ? size : d + B;
			for (uint64_t at = d; at < h; at += MIG_DISK_RUN_MAX)
				if (send_range(s, tx, i, at,
					       h - at < MIG_DISK_RUN_MAX ? h - at
									 : MIG_DISK_RUN_MAX,
					       true, err) < 0)
					return -1;
			off = h;
		}
	}
	return zero_flush(s, tx, true, err);
}

uint64_t mig_disk_collect(struct mig_disk_src *s)
{
	uint64_t bytes = 0;
	for (unsigned i = 0; i < s->n; i++) {
		blk_dirty_take(s->d[i].dirty, s->d[i].pending);
		for (uint64_t w = 0; w < blk_dirty_words(s->d[i].dirty); w++)
			bytes +=
			    (uint64_t)__builtin_popcountll(s->d[i].pending[w]) * BLK_DIRTY_BLOCK;
	}
	return bytes;
}

int mig_disk_send_pending(struct mig_disk_src *s, struct mc_ms *tx, bool limit, uint64_t *bytes,
			  mc_err *err)
{
	const uint64_t per = MIG_DISK_RUN_MAX / BLK_DIRTY_BLOCK;
	uint64_t total = 0;
	for (unsigned i = 0; i < s->n; i++) {
		uint64_t *pend = s->d[i].pending, nb = s->d[i].dirty->blocks, size = s->d[i].size;
		for (uint64_t b = 0; b < nb;) {
			if (!(pend[b / 64] & (1ull << (b % 64)))) {
				b++;
				continue;
			}
			uint64_t first = b;
			while (b < nb && b - first < per && (pend[b / 64] & (1ull << (b % 64)))) {
				pend[b / 64] &= ~(1ull << (b % 64));
				b++;
			}
			uint64_t off = first * BLK_DIRTY_BLOCK, end = b * BLK_DIRTY_BLOCK;
			if (end > size)
				end = size;
			if (send_range(s, tx, i, off, end - off, limit, err) < 0)
				return -1;
			total += end - off;
		}
	}
	*bytes = total;
	return zero_flush(s, tx, limit, err);
}

void mig_disk_src_close(struct mig_disk_src *s)
{
	mig_disk_track(s, false);
	for (unsigned i = 0; i < s->n; i++) {
		close(s->d[i].fd);
		free(s->d[i].pending);
	}
	s->n = 0;
	free(s->buf);
	s->buf = NULL;
}
