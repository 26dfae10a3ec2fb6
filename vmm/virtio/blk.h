/* virtio-blk (virtio spec 1.2, 5.2): the device model over a block backend (blk_io.h). */
#ifndef MINIVM_VIRTIO_BLK_H
#define MINIVM_VIRTIO_BLK_H

#include <stdbool.h>

#include "device.h"
#include "error.h"
#include "virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_TOPOLOGY	  10
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2
#define VIRTIO_BLK_ID_BYTES	  20
#define VIRTIO_BLK_DWZ_F_UNMAP	  1u /* the unmap flag of a write-zeroes segment */

/* Config space offsets (struct virtio_blk_config, 5.2.4). */
#define VIRTIO_BLK_CFG_CAPACITY		   0
#define VIRTIO_BLK_CFG_SEG_MAX		   12
#define VIRTIO_BLK_CFG_BLK_SIZE		   20
#define VIRTIO_BLK_CFG_NUM_QUEUES	   34
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG	   40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN	   44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS	   48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG	   52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP	   56
#define VIRTIO_BLK_CONFIG_LEN		   60

/* What the model offers. */
#define VIRTIO_BLK_QUEUE_SIZE  256u
#define VIRTIO_BLK_SEG_MAX     254u	  /* data buffers per request: the queue size minus 2 */
#define VIRTIO_BLK_MAX_SECTORS (1u << 22) /* per discard / write-zeroes segment (2 GiB) */

/* One --disk. */
struct blk_disk {
	const char *path;
	bool ro, direct;
	int engine; /* enum blk_engine (blk_io.h): 0 automatic */
};

/* A virtio-blk device named "virtio-blk<index>" over the transport (tops, transport); the
 * image is opened at realize. Give it to devices_add(). */
struct device *virtio_blk_create(const struct blk_disk *disk, unsigned index,
				 const struct virtio_transport_ops *tops, void *transport,
				 mc_err *err);
/* Open and check the image the way realize will (a clear error before anything is made). */
int virtio_blk_check(const struct blk_disk *disk, mc_err *err);
/* "PATH[,ro][,direct][,engine=uring|threads]" into d (pointing into s, which must live on). */
int virtio_blk_parse(char *s, struct blk_disk *d, mc_err *err);
/* The engine a realized device uses ("io_uring", "threads"). */
const char *virtio_blk_engine(struct device *d);

/* Copy-storage migration (docs/migration.md): whether d is a virtio-blk device; its image's
 * path; the bitmap of the blocks the guest writes (blk_dirty.h; its size is the image's), NULL
 * before realize. */
bool virtio_blk_is(struct device *d);
const char *virtio_blk_path(struct device *d);
struct blk_dirty *virtio_blk_dirty(struct device *d);

#endif
