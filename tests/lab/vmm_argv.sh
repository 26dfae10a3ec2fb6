#!/usr/bin/env bash
# The guest command's arguments and environment reach it byte for byte (docs/boot.md, "The
# command and its environment"): quotes, backslash, tab, newline, non-ASCII and invalid UTF-8,
# $, `, a lone space, an empty argument; 64 KiB of arguments; --env and --env-file. They travel
# in an archive minivm appends to the initramfs, so the kernel command line holds only kernel
# parameters. The console mixes kernel messages in and turns \n into \r\n, so the guest prints
# each result as one hex (or sha256) line between markers. Needs a stock kernel (the lab).
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
hex() { od -An -tx1 -v | tr -d ' \n'; }
# field NAME FILE: the value printed by the guest as NAME:<value>:END
field() { tr -d '\r' <"$2" | grep -ao "$1:[^:]*:END" | head -n 1 | sed "s/^$1:\(.*\):END$/\1/"; }
vm() { # NAME KERNEL MINIVM-ARGS...: console to $TMP/NAME.out
	local name=$1 kernel=$2
	shift 2
	timeout 300 "$BIN/minivm" run --kernel "$kernel" --initrd "$MINIVM_INITRD" "$@" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
}

# 1. Awkward arguments and the environment, and behind them 64 KiB of arguments of every byte but
# NUL plus one of 32 KiB, in one bzImage boot (boots are this test's time in the lab; PVH boots
# with a command in tests/lab/vmm_linux_boot.sh).
args=('a"b' "it's" 'back\slash\' $'tab\there' $'new\nline\n' $'caf\xc3\xa9 \xe2\x82\xac' $'\xff\xfe'
	'$HOME' '`id`' '$(id)' ' ' '' '--' '-n' '*' "'" '"' $'\r' '=x')
big=()
for i in $(seq 64); do
	big+=("$(head -c 1100 /dev/urandom | tr -d '\0' | head -c 1024)")
done
big+=("$(head -c 40000 /dev/urandom | tr -d '\0' | head -c 32768)")
bytes=$(printf '%s\0' "${big[@]}" | wc -c)
[ "$bytes" -gt 90000 ] || fail "big: only $bytes bytes of arguments"
cat >"$TMP/env" <<'ENV'
# a comment, then an empty line

F1=value with spaces and "quotes" and 'single'
F2==starts=with=equals
F3=   leading and trailing   
#COMMENT=commented out
OVR=from-file
EMPTY=
ENV
printf 'CRLF=dos\r\n' >>"$TMP/env"
printf 'LAST=no newline at the end' >>"$TMP/env"
# the guest: the awkward arguments (the first ${#args[@]}) as hex, then the count and the
# sha256 of the big ones (shift drops the awkward ones)
# shellcheck disable=SC2016 # expanded by the guest's shell
script='printf "CMDLINE:%s:END\n" "$(cat /proc/cmdline)"
n=$1; shift
printf "ARGS:%s:END\n" "$(i=0; for a; do i=$((i+1)); [ $i -le $n ] && printf "%s\0" "$a"; done | od -An -tx1 -v | tr -d " \n")"
shift $n
printf "N:%s:END\n" "$#"; printf "SUM:%s:END\n" "$(printf "%s\0" "$@" | sha256sum | cut -d" " -f1)"
printf "ENV:%s:END\n" "$(printf "%s\0" "$E1" "$E2" "$F1" "$F2" "$F3" "$OVR" "$EMPTY" "${EMPTY+set}" "$CRLF" "$LAST" "${PATH:+path}" "${COMMENT-unset}" | od -An -tx1 -v | tr -d " \n")"'
vm awkward "$MINIVM_KERNEL" --env 'E1=x y"z $HOME `id` '$'\t\n\xc3\xa9' --env-file "$TMP/env" \
	--env E2= --env OVR=from-flag -- /bin/sh -c "$script" sh "${#args[@]}" "${args[@]}" "${big[@]}"
rc=$?
expect_eq "awkward: exit status ($(tail -n 5 "$TMP/awkward.out"); $(cat "$TMP/awkward.err"))" "$rc" 0
cmdline=$(field CMDLINE "$TMP/awkward.out")
expect_eq "awkward: the kernel command line holds only kernel parameters" "$cmdline" \
	"console=ttyS0 quiet panic=-1 no_timer_check"
want=$(printf '%s\0' "${args[@]}" | hex)
got=$(field ARGS "$TMP/awkward.out")
expect_eq "awkward: arguments, as hex" "$got" "$want"
want=$(printf '%s\0' 'x y"z $HOME `id` '$'\t\n\xc3\xa9' '' 'value with spaces and "quotes" and '"'single'" \
	'=starts=with=equals' '   leading and trailing   ' from-flag '' set dos 'no newline at the end' \
	path unset | hex)
got=$(field ENV "$TMP/awkward.out")
expect_eq "awkward: environment, as hex" "$got" "$want"
echo "awkward: ok (${#args[@]} arguments, $(printf '%s\0' "${args[@]}" | wc -c) bytes)"
expect_eq "big: argument count" "$(field N "$TMP/awkward.out")" "${#big[@]}"
expect_eq "big: sha256 of the arguments" "$(field SUM "$TMP/awkward.out")" \
	"$(printf '%s\0' "${big[@]}" | sha256sum | cut -d' ' -f1)"
echo "big: ok (${#big[@]} arguments, $bytes bytes)"

# 3. No command from minivm: guestinit still takes one from the kernel command line (images
# booted by older minivm or by QEMU).
vm fallback "$MINIVM_KERNEL" --cmdline 'console=ttyS0 quiet panic=-1 pci=off no_timer_check -- /bin/sh -c "exit 5"'
rc=$?
expect_eq "fallback: exit status of the command-line command ($(tail -n 5 "$TMP/fallback.out"))" "$rc" 5
echo "fallback: ok"
