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
		# soft dependencies loaded first ("softdep ext4 pre: crypto-crc32c"), by module name
		# or alias (every module providing it, as modprobe does); one not found is skipped
		local soft alias_mod
		for soft in $(awk -v m="$name" '$1 == "softdep" && $2 == m {
				for (i = 3; i <= NF; i++) { if ($i == "pre:") p = 1; else if ($i ~ /:$/) p = 0; else if (p) print $i } }' \
			"$moddir/modules.softdep" 2>/dev/null); do
			if grep -qE "(^|/)${soft//[-_]/[-_]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep"; then
				visit "$soft" || return 1
			else
				for alias_mod in $(awk -v a="$soft" '$1 == "alias" && $2 == a {print $3}' "$moddir/modules.alias" 2>/dev/null); do
					visit "$alias_mod" || return 1
				done
			fi
		done
		out+=("$path")
	}
	local m
	for m in "$@"; do visit "$m" || return 1; done
	printf '%s\n' "${out[@]}"
}

# kernel_decompresses CONFIG EXT: whether the kernel of that config file decompresses modules
# compressed as EXT (xz, zst, gz) itself (finit_module's MODULE_INIT_COMPRESSED_FILE): it needs
# CONFIG_MODULE_DECOMPRESS and that very algorithm, the one it was built to compress with.
kernel_decompresses() {
	local config=$1 alg
	case $2 in xz) alg=XZ ;; zst) alg=ZSTD ;; gz) alg=GZIP ;; *) return 1 ;; esac
	[ -f "$config" ] && grep -qx CONFIG_MODULE_DECOMPRESS=y "$config" &&
		grep -qx "CONFIG_MODULE_COMPRESS_$alg=y" "$config"
}

# stage_modules MODDIR STAGE NAME...: copy the modules into STAGE/lib/modules/ and write
# STAGE/lib/modules/load.list (absolute paths inside the initramfs, dependency order).
# Compressed modules (.ko.xz, .ko.zst, .ko.gz) stay compressed when $MODULES_COMPRESSED is keep,
# or auto (the default) and the kernel ($KERNEL_CONFIG) decompresses them; otherwise they are
# decompressed here, so guestinit loads plain .ko files.
stage_modules() {
	local moddir=$1 stage=$2
	shift 2
	mkdir -p "$stage/lib/modules"
	: >"$stage/lib/modules/load.list"
	local rel mods name ext
	mods=$(modules_in_order "$moddir" "$@") || return 1
	for rel in $mods; do
		name=$(basename "$rel")
		ext=${name##*.ko}
		ext=${ext#.}
		if [ -n "$ext" ] && { [ "${MODULES_COMPRESSED:-auto}" = decompress ] ||
			{ [ "${MODULES_COMPRESSED:-auto}" = auto ] &&
				! kernel_decompresses "${KERNEL_CONFIG:-}" "$ext"; }; }; then
			name=${name%".$ext"}
			case $ext in
			xz) xz -dc "$moddir/$rel" ;;
			zst) zstd -dcq "$moddir/$rel" ;;
			gz) gzip -dc "$moddir/$rel" ;;
			*)
				echo "initramfs: $rel: unknown module compression .$ext" >&2
				return 1
				;;
			esac >"$stage/lib/modules/$name" || {
				echo "initramfs: can't decompress $moddir/$rel" >&2
				return 1
			}
		else
			cp "$moddir/$rel" "$stage/lib/modules/"
		fi
		echo "/lib/modules/$name" >>"$stage/lib/modules/load.list"
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
