# Shared by images.sh and lab-image.sh (sourced): stage busybox and kernel modules, pack cpio.

# modules_in_order MODDIR NAME...: print the .ko paths (relative to MODDIR) of the named modules
# and everything they depend on, dependencies first (from modules.dep, made by kernel-fetch).
modules_in_order() {
	local moddir=$1
	shift
	local -A seen=()
	local out=()
	visit() {
		local name=${1//-/_} line path dep
		[ -n "${seen[$name]:-}" ] && return
		seen[$name]=1
		line=$(grep -E "(^|/)${name//_/[-_]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1)
		if [ -z "$line" ]; then
			# built into the kernel: nothing to load
			grep -qE "/${name//_/[-_]}\.ko" "$moddir/modules.builtin" && return
			echo "initramfs: module $name not found in $moddir" >&2
			return 1
		fi
		path=${line%%:*}
		for dep in ${line#*:}; do
			dep=$(basename "$dep")
			visit "${dep%%.ko*}" || return 1
		done
		out+=("$path")
	}
	local m
	for m in "$@"; do visit "$m" || return 1; done
	printf '%s\n' "${out[@]}"
}

# stage_modules MODDIR STAGE NAME...: copy the modules into STAGE/lib/modules/ and write
# STAGE/lib/modules/load.list (absolute paths inside the initramfs, dependency order).
stage_modules() {
	local moddir=$1 stage=$2
	shift 2
	mkdir -p "$stage/lib/modules"
	: >"$stage/lib/modules/load.list"
	local rel mods
	mods=$(modules_in_order "$moddir" "$@") || return 1
	for rel in $mods; do
		cp "$moddir/$rel" "$stage/lib/modules/"
		echo "/lib/modules/$(basename "$rel")" >>"$stage/lib/modules/load.list"
	done
}

# stage_busybox STAGE: Debian's static busybox with a symlink per applet in /bin.
stage_busybox() {
	local stage=$1 a
	mkdir -p "$stage/bin" "$stage/sbin"
	cp /bin/busybox "$stage/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$stage/bin/$a" ] || ln -s busybox "$stage/bin/$a"
	done
}

# pack_cpio STAGE OUT: a newc cpio (uncompressed: the guest decompresses nothing), owned by root.
pack_cpio() {
	local stage=$1 out=$2
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$out.tmp"
	mv "$out.tmp" "$out"
}

# kernel_version KDIR: the one kernel version under KDIR/lib/modules (fails if not exactly one).
kernel_version() {
	local d=("$1"/lib/modules/*)
	if [ ${#d[@]} -ne 1 ] || [ ! -d "${d[0]}" ]; then
		echo "initramfs: expected one kernel under $1/lib/modules, found ${#d[@]}" >&2
		return 1
	fi
	basename "${d[0]}"
}
