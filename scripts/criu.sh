#!/usr/bin/env bash
# CRIU >= 4.0 for checkpoint/restore, cached outside the clone (docs/checkpoint.md):
#   criu.sh ensure [--if-reachable]
#       make $MINI_CACHE/criu/<version>/criu and print its path: a link to the system criu when
#       it is >= 4.0 and `criu check` passes, else the pinned upstream release built from the
#       orig tarball in Debian's source archive (trixie), its SHA256 checked against the value
#       pinned here. Never installs anything into /usr. A second call is instant.
#       --if-reachable: when Debian's archive can't be reached, or not as root, warn and exit 0
#       (make deps)
#   criu.sh path
#       print the path of a working criu (>= 4.0, `criu check` passes): $MINICT_CRIU when set,
#       else the newest one in the cache; else exit 1 with one line saying why.
# Exit status: 0 ok, 1 error, 2 usage, 3 Debian's archive unreachable.
set -euo pipefail
cache=${MINI_CACHE:-/var/cache/minivm}
dir=$cache/criu

# The pinned release. The checksum is the orig tarball's line in the Checksums-Sha256 of
# criu_4.1.1-1.dsc, as trixie's (signed) Sources index carries it.
CRIU_VERSION=4.1.1
CRIU_TARBALL=criu_4.1.1.orig.tar.xz
CRIU_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
CRIU_SUITE=trixie
CRIU_MIN=4.0
MIRROR=${MINI_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() {
	echo "criu: $*" >&2
	exit 1
}

# criu_version BIN: its version ("4.1.1"), or nothing when it doesn't run.
criu_version() {
	"$1" --version 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}
version_ge() { # A B: A >= B
	[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]
}
# criu_works BIN: 0 when BIN runs, is >= CRIU_MIN and `criu check` passes; else sets $why.
why=
criu_works() {
	local bin=$1 ver out
	if [ ! -x "$bin" ]; then
		why="$bin is missing or not executable"
		return 1
	fi
	ver=$(criu_version "$bin")
	if [ -z "$ver" ]; then
		why="$bin does not run ($("$bin" --version 2>&1 | head -n 1))"
		return 1
	fi
	if ! version_ge "$ver" "$CRIU_MIN"; then
		why="$bin is CRIU $ver, older than $CRIU_MIN"
		return 1
	fi
	if [ "$(id -u)" -ne 0 ]; then
		why="criu check needs root (checking $bin)"
		return 1
	fi
	if ! out=$("$bin" check 2>&1); then
		why="$bin (CRIU $ver) fails criu check: $(grep -m 1 'Error' <<<"$out" | sed 's/^Error ([^)]*): //')"
		return 1
	fi
	return 0
}

# A private apt set-up (its own sources list, lists and package cache under $dir/apt) with
# trixie's deb-src: the machine's own apt sources and lists are never touched.
apt_private() {
	local a=$dir/apt
	mkdir -p "$a/sources.list.d" "$a/lists/partial" "$a/cache/archives/partial"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $CRIU_SUITE main" \
		>"$a/sources.list"
	apt_opts=(-q -o "Dir::Etc::sourcelist=$a/sources.list" -o "Dir::Etc::sourceparts=$a/sources.list.d"
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o APT::Sandbox::User=root)
}

# fetch: the pinned orig tarball into $dir/src, by apt-get source --tar-only from trixie.
soft=0
unreachable() {
	echo "criu: Debian's archive is unreachable ($CRIU_SUITE deb-src at $MIRROR): $*" >&2
	if [ $soft = 1 ]; then
		echo "criu: no CRIU >= $CRIU_MIN for now; the tests that need it will skip" >&2
		exit 0
	fi
	exit 3
}
fetch() {
	local log ver tmp
	apt_private
	log=$dir/apt/fetch.log
	if ! apt-get "${apt_opts[@]}" update >"$log" 2>&1; then
		unreachable "apt-get update failed: $(grep -E '^(E|W):' "$log" | head -n 1)"
	fi
	# apt-get update only warns when a source can't be fetched
	if ! compgen -G "$dir/apt/lists/*_${CRIU_SUITE}_main_source_Sources*" >/dev/null; then
		unreachable "no Sources index: $(grep -m 1 -A 1 -E '^(E|W|Err)' "$log" | tr -s '\n ' ' ')"
	fi
	ver=$(apt-cache "${apt_opts[@]}" showsrc criu 2>/dev/null |
		awk -v v="$CRIU_VERSION" '$1 == "Version:" && index($2, v "-") == 1 {print $2; exit}' || true)
	[ -n "$ver" ] || die "$CRIU_SUITE's Sources index has no criu $CRIU_VERSION-* any more (pin a newer release)"
	tmp=$(mktemp -d "$dir/.fetch-XXXXXX")
	# only the orig tarball: the .dsc and the Debian diff aren't needed (and the archive
	# mirror here serves only some of the pool)
	if ! (cd "$tmp" && apt-get "${apt_opts[@]}" source --download-only --tar-only "criu=$ver") \
		>>"$log" 2>&1 || [ ! -f "$tmp/$CRIU_TARBALL" ]; then
		rm -rf "$tmp"
		unreachable "apt-get source criu=$ver failed: $(grep -E '^(E|W):' "$log" | head -n 1)"
	fi
	mkdir -p "$dir/src"
	mv "$tmp/$CRIU_TARBALL" "$dir/src/$CRIU_TARBALL"
	rm -rf "$tmp" "$dir/apt/lists" "$dir/apt/cache" # ~30 MB of index, not needed any more
	echo "criu: fetched $CRIU_TARBALL (criu $ver, $CRIU_SUITE)" >&2
}

# verify FILE: refuse a tarball whose SHA256 isn't the pinned one.
verify() {
	local got
	got=$(sha256sum "$1" | cut -d' ' -f1)
	if [ "$got" != "$CRIU_SHA256" ]; then
		die "checksum mismatch: $1 has SHA256 $got, pinned $CRIU_SHA256; refusing it (delete it to fetch again)"
	fi
}

build() {
	local tarball=$dir/src/$CRIU_TARBALL out=$dir/$CRIU_VERSION log start
	[ -f "$tarball" ] || fetch
	verify "$tarball"
	build_tmp=$(mktemp -d "$dir/.build-XXXXXX")
	trap 'rm -rf "$build_tmp"' EXIT
	local tmp=$build_tmp
	log=$dir/build-$CRIU_VERSION.log
	echo "criu: building CRIU $CRIU_VERSION (log: $log)" >&2
	start=$SECONDS
	tar -xJf "$tarball" -C "$tmp"
	# a clean environment: nothing of the calling make (its variables, jobserver, CFLAGS)
	if ! (cd "$tmp/criu-$CRIU_VERSION" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		-u CFLAGS -u CPPFLAGS -u LDFLAGS -u CC -u BUILD -u SAN \
		make -j"$(nproc)" criu) >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "building CRIU $CRIU_VERSION failed (log: $log; build deps come from scripts/deps.sh)"
	fi
	mkdir -p "$tmp/out"
	cp "$tmp/criu-$CRIU_VERSION/criu/criu" "$tmp/out/criu"
	if ! criu_works "$tmp/out/criu"; then
		die "the CRIU $CRIU_VERSION just built doesn't work: $why"
	fi
	"$tmp/out/criu" check >"$tmp/out/check.log" 2>&1
	rm -rf "$out"
	mv "$tmp/out" "$out"
	echo "criu: built $out/criu in $((SECONDS - start)) s; criu check: $(tail -n 1 "$out/check.log")" >&2
}

ensure() {
	local sys sysver
	[ "${1:-}" = --if-reachable ] && soft=1
	if [ "$(id -u)" -ne 0 ]; then # what root set up, else nothing
		if [ -n "$(criu_version "$dir/$CRIU_VERSION/criu" 2>/dev/null)" ]; then
			echo "$dir/$CRIU_VERSION/criu"
			return
		fi
		[ $soft = 1 ] || die "setting up CRIU needs root (criu check does)"
		echo "criu: not root: no CRIU >= $CRIU_MIN set up (run make deps as root)" >&2
		return 0
	fi
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock -w 900 9 || die "another criu.sh holds $dir/.lock"
	# the system's criu, when it is new enough and works here
	sys=$(command -v criu || true)
	if [ -n "$sys" ] && [ -z "${MINI_CRIU_NO_SYSTEM:-}" ] && criu_works "$sys"; then
		sysver=$(criu_version "$sys")
		mkdir -p "$dir/$sysver"
		if [ "$(readlink "$dir/$sysver/criu" 2>/dev/null)" != "$sys" ]; then
			ln -sfn "$sys" "$dir/$sysver/.criu.new" && mv -T "$dir/$sysver/.criu.new" "$dir/$sysver/criu"
		fi
		echo "$dir/$sysver/criu"
		return
	fi
	# the pinned build, cached by version (it runs: its libraries are still there)
	if [ -n "$(criu_version "$dir/$CRIU_VERSION/criu" 2>/dev/null)" ]; then
		echo "$dir/$CRIU_VERSION/criu"
		return
	fi
	build
	echo "$dir/$CRIU_VERSION/criu"
}

path() {
	local c tried=() sys
	if [ -n "${MINICT_CRIU:-}" ]; then
		criu_works "$MINICT_CRIU" || die "MINICT_CRIU=$MINICT_CRIU doesn't work: $why"
		echo "$MINICT_CRIU"
		return
	fi
	while read -r c; do
		[ -e "$c" ] || continue
		if criu_works "$c"; then
			echo "$c"
			return
		fi
		tried+=("$why")
	done <<<"$(printf '%s\n' "$dir"/[0-9]*/criu | sort -rV)" # no <(): the lab has no /dev/fd
	if [ ${#tried[@]} -gt 0 ]; then
		die "no working CRIU >= $CRIU_MIN: ${tried[*]}"
	fi
	sys=$(command -v criu || true)
	if [ -n "$sys" ] && ! criu_works "$sys"; then
		die "no CRIU >= $CRIU_MIN in $dir (run make deps or scripts/criu.sh ensure); the system's: $why"
	fi
	die "no CRIU >= $CRIU_MIN in $dir (run make deps or scripts/criu.sh ensure)"
}

case ${1:-} in
ensure) ensure "${2:-}" ;;
path) path ;;
*)
	echo "usage: $0 ensure [--if-reachable] | path" >&2
	exit 2
	;;
esac
