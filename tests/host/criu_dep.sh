#!/usr/bin/env bash
# CRIU as a dependency (docs/checkpoint.md): scripts/criu.sh path gives a CRIU >= 4.0 whose
# `criu check` passes here; a corrupted cached tarball is refused by the checksum check, and
# MINICT_CRIU naming a criu that doesn't work is refused with one clear line.
. "$ROOT/tests/lib.sh"
criu_sh=$ROOT/scripts/criu.sh
cache=${MINI_CACHE:-/var/cache/minivm}
[ "$(id -u)" -eq 0 ] || skip "criu check needs root"
out='' rc=''

if ! p=$("$criu_sh" path 2>/dev/null); then
	# make deps normally did this; do it here when it didn't (exit 3: archive unreachable)
	run_capture out rc "$criu_sh" ensure
	[ "$rc" = 3 ] && skip "no CRIU and Debian's archive is unreachable: $(tail -n 1 <<<"$out")"
	[ "$rc" = 0 ] || fail "scripts/criu.sh ensure failed (exit $rc): $out"
	p=$("$criu_sh" path) || fail "scripts/criu.sh path fails after ensure"
fi
case $p in /*) ;; *) fail "criu path is not absolute: $p" ;; esac
ver=$("$p" --version | awk '/^Version:/ {print $2}')
[ -n "$ver" ] || fail "$p --version gives no version: $("$p" --version 2>&1)"
[ "$(printf '%s\n4.0\n' "$ver" | sort -V | head -n 1)" = 4.0 ] || fail "$p is CRIU $ver, want >= 4.0"
run_capture out rc "$p" check
expect_eq "criu check exit status ($out)" "$rc" 0
expect_contains "criu check" "$out" "Looks good"
echo "criu: $p, CRIU $ver, criu check: $(tail -n 1 <<<"$out")"

# a second ensure is instant (cached)
start=$(date +%s%N)
"$criu_sh" ensure >/dev/null || fail "a second scripts/criu.sh ensure failed"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2000 ] || fail "a second scripts/criu.sh ensure took $ms ms"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A corrupted cached tarball in a copy of the cache: refused, nothing built.
tarball=$(compgen -G "$cache/criu/src/criu_*.orig.tar.xz" | head -n 1)
if [ -n "$tarball" ]; then
	mkdir -p "$tmp/c/criu/src"
	cp "$tarball" "$tmp/c/criu/src/"
	bad=$tmp/c/criu/src/$(basename "$tarball")
	printf 'X' | dd of="$bad" bs=1 seek=4096 conv=notrunc status=none
	run_capture out rc env MINI_CACHE="$tmp/c" MINI_CRIU_NO_SYSTEM=1 "$criu_sh" ensure
	[ "$rc" != 0 ] || fail "ensure accepted a corrupted tarball: $out"
	expect_contains "corrupted tarball refused" "$out" "checksum mismatch"
	expect_contains "the refusal names the file" "$out" "$bad"
	[ -z "$(compgen -G "$tmp/c/criu/[0-9]*")" ] || fail "something was built from a corrupted tarball"
	run_capture out rc env MINI_CACHE="$tmp/c" "$criu_sh" path
	[ "$rc" != 0 ] || fail "path found a criu in an empty cache: $out"
	expect_eq "path's refusal is one line ($out)" "$(wc -l <<<"$out")" 1
	expect_contains "path's refusal" "$out" "no CRIU >= 4.0"
else
	# the system's criu is in use: there is no tarball to corrupt
	echo "no cached tarball (the system's criu is used): corruption check not applicable"
fi

# MINICT_CRIU pointing at something that isn't a working criu: one clear line.
printf '#!/bin/sh\necho "Version: 3.17.1"\n' >"$tmp/oldcriu"
chmod +x "$tmp/oldcriu"
run_capture out rc env MINICT_CRIU="$tmp/oldcriu" "$criu_sh" path
[ "$rc" != 0 ] || fail "path accepted CRIU 3.17.1: $out"
expect_contains "old criu refused" "$out" "CRIU 3.17.1, older than 4.0"
run_capture out rc env MINICT_CRIU="$tmp/none" "$criu_sh" path
[ "$rc" != 0 ] || fail "path accepted a missing criu: $out"
expect_contains "missing criu refused" "$out" "missing or not executable"
run_capture out rc env MINICT_CRIU="$p" "$criu_sh" path
expect_eq "MINICT_CRIU=$p honoured" "$out" "$p"
echo "CRIU dependency: ok"
