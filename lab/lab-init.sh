#!/bin/busybox sh
# /init of the lab's initramfs (see docs/lab.md). Builds the lab's root and hands over to
# `minilab agent`, which becomes PID 1:
#   /          overlay: the host's / over virtio-fs, read-only, with a tmpfs upper layer, so
#              the lab sees every host tool but its writes stay in the lab
#   CHECKOUT   the project checkout over a second virtio-fs share, read-write
#   /lib/modules/KVER   the lab kernel's module tree (from the image cache), so modprobe works
#   /sys/fs/cgroup      a pure cgroup2 hierarchy
export PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev

fail() {
	echo "MINILAB-INIT-FAILED: $*" >/dev/console
	poweroff -f
	sleep 1000
}

for arg in $(cat /proc/cmdline); do
	case $arg in
	minilab.checkout=*) CHECKOUT=${arg#*=} ;;
	minilab.kver=*) KVER=${arg#*=} ;;
	minilab.moddir=*) MODDIR=${arg#*=} ;;
	minilab.port=*) PORT=${arg#*=} ;;
	minilab.token=*) TOKEN=${arg#*=} ;;
	esac
done
[ -n "$CHECKOUT" ] && [ -n "$KVER" ] && [ -n "$MODDIR" ] && [ -n "$PORT" ] && [ -n "$TOKEN" ] ||
	fail "kernel command line lacks minilab.checkout/kver/moddir/port/token"

for m in $(cat /lib/modules/load.list); do
	insmod "$m" || fail "insmod $m"
done

mkdir -p /mnt/lower /mnt/rw /newroot
mount -t virtiofs -o ro hostroot /mnt/lower || fail "mount the host root (virtio-fs tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "mount tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot ||
	fail "mount the overlay root"
# The checkout first goes to /mnt/checkout: the lab's own /tmp and /run are mounted before it
# moves into place, so a checkout under /tmp stays visible.
mkdir -p /mnt/checkout "/newroot/lib/modules/$KVER"
mount -t virtiofs checkout /mnt/checkout || fail "mount the checkout (virtio-fs tag checkout)"
# the agent's secret, written by minilab start on the host, in the checkout or elsewhere
case $TOKEN in
"$CHECKOUT"/*) cp "/mnt/checkout/${TOKEN#"$CHECKOUT"/}" /token ;;
*) cp "/mnt/lower$TOKEN" /token ;;
esac || fail "read the lab token $TOKEN"
mount --bind "/mnt/lower$MODDIR" "/newroot/lib/modules/$KVER" || fail "bind $MODDIR"
mount -t proc proc /newroot/proc || fail "mount /proc"
mount -t sysfs sys /newroot/sys || fail "mount /sys"
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup || fail "mount cgroup2"
mount -t devtmpfs dev /newroot/dev || fail "mount /dev"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/run/minilab "/newroot$CHECKOUT"
cp /token /newroot/run/minilab/token && chmod 0600 /newroot/run/minilab/token && rm /token
mount --move /mnt/checkout "/newroot$CHECKOUT" || fail "move the checkout to $CHECKOUT"

hostname minilab
ip link set lo up
ip link set eth0 up || fail "no eth0"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

agent=$CHECKOUT/build/bin/minilab
[ -x "/newroot$agent" ] || fail "$agent is missing"
exec switch_root /newroot "$agent" agent --port "$PORT" --token-file /run/minilab/token
