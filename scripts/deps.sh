#!/usr/bin/env bash
# Install the Debian packages the project needs, idempotently (only what is missing).
set -euo pipefail

pkgs=(
	# build
	gcc make pkg-config libc6-dev clang libclang-rt-14-dev
	libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev libjson-c-dev zlib1g-dev
	libcmocka-dev liburing-dev
	# images and the lab
	qemu-system-x86 busybox-static cpio lz4 python3 e2fsprogs kmod iproute2
	# other kernels' compressed modules, the benchmark rootfs (docs/images.md)
	zstd xz-utils debootstrap
	# baselines and clients (runtime issue)
	runc podman crun time
	# real OCI clients driving minict (tests/host/runtime_docker.sh, runtime_containerd.sh)
	docker.io containerd
	# building CRIU 4.x from source into the cache (scripts/criu.sh, docs/checkpoint.md)
	libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev protobuf-compiler libnl-3-dev
	libnet1-dev libcap-dev libbsd-dev libgnutls28-dev libaio-dev libnftables-dev uuid-dev
	pkg-config python3-protobuf xz-utils
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root or install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once per day at most.
stamp=/var/lib/apt/periodic/minivm-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
