#!/usr/bin/env bash
# The guest command's stdin, stdout and stderr through virtio-console ports (docs/virtio.md,
# "virtio-console and the guest command's stdio"): separate and byte for byte both ways (binary
# data, MiBs, sha256), stdin from a file, a pipe or /dev/null with its end, a command that never
# reads stdin, no kernel message in the output even when the kernel logs (they go to
# --console-log or, with --verbose, to stderr), exit statuses, and -t: a terminal (hvc0) with
# the host's window size, followed on SIGWINCH, through a pseudo-terminal. Needs a stock kernel
# (the lab).
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
vm() { # MINIVM-ARGS... (stdin, stdout, stderr as given)
	timeout 300 "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" "$@"
}
sum() { sha256sum | cut -d' ' -f1; }

# Boots are what this test's time goes to in the lab, so each boot checks several things.
# 1. stdin /dev/null (cat ends), no terminal without -t, the kernel's messages (the command
# makes the kernel log, at error and warning level) in --console-log and never in stdout or
# stderr, then stdout and stderr interleaved, each exactly what was written to it (no \r, no
# kernel line), and the exit status.
# shellcheck disable=SC2016 # expanded by the guest's shell
kmsg='echo "<3>KMSG-ERR-MARK" >/dev/kmsg; echo "<4>KMSG-WARN-MARK" >/dev/kmsg; sleep 1'
# shellcheck disable=SC2016
vm --console-log "$TMP/log" -- sh -c "$kmsg"'; test -t 0 || echo notty0; test -t 1 || echo notty1; tty; cat; echo end
i=0; while [ $i -lt 2000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; printf "no newline"; exit 7' \
	</dev/null >"$TMP/o" 2>"$TMP/e"
rc=$?
expect_eq "interleaved: exit status ($(tail -c 300 "$TMP/e"))" "$rc" 7
{
	printf 'notty0\nnotty1\nnot a tty\nend\n'
	for i in $(seq 0 1999); do echo "out $i"; done
	printf 'no newline'
} >"$TMP/o.want"
for i in $(seq 0 1999); do echo "err $i"; done >"$TMP/e.want"
cmp "$TMP/o" "$TMP/o.want" || fail "interleaved: stdout differs ($(head -c 300 "$TMP/o" | od -c | head -5))"
cmp "$TMP/e" "$TMP/e.want" || fail "interleaved: stderr differs ($(head -c 300 "$TMP/e"))"
grep -q KMSG-ERR-MARK "$TMP/log" || fail "kmsg: not in --console-log: $(tail -n 5 "$TMP/log")"
echo "stdin /dev/null, no tty, kmsg, interleaved: ok ($(wc -c <"$TMP/o") + $(wc -c <"$TMP/e") bytes)"

# 2. Binary stdin from a file -> stdout, and from a pipe -> stderr: 8 MiB and 3 MiB of random
# bytes, checksums equal, the other stream empty.
head -c $((8 << 20)) /dev/urandom >"$TMP/in8"
vm --console-log "$TMP/con" -- cat <"$TMP/in8" >"$TMP/o" 2>"$TMP/e"
rc=$?
expect_eq "file->stdout: exit status ($(tail -c 300 "$TMP/e"); console: $(tail -n 30 "$TMP/con"))" "$rc" 0
expect_eq "file->stdout: sha256 ($(wc -c <"$TMP/o") bytes)" "$(sum <"$TMP/o")" "$(sum <"$TMP/in8")"
expect_eq "file->stdout: stderr" "$(wc -c <"$TMP/e")" 0
head -c $((3 << 20)) /dev/urandom >"$TMP/in3"
# shellcheck disable=SC2002 # a pipe, on purpose
cat "$TMP/in3" | vm --console-log "$TMP/con" -- sh -c 'cat >&2; echo done' >"$TMP/o" 2>"$TMP/e"
rc=$?
expect_eq "pipe->stderr: exit status (console: $(tail -n 30 "$TMP/con"))" "$rc" 0
expect_eq "pipe->stderr: sha256 ($(wc -c <"$TMP/e") bytes)" "$(sum <"$TMP/e")" "$(sum <"$TMP/in3")"
expect_eq "pipe->stderr: stdout" "$(cat "$TMP/o")" "done"
echo "binary: ok (8 MiB file -> stdout, 3 MiB pipe -> stderr)"

# 3. stdin that ends early (the command wants more), with --verbose: the kernel's messages on
# stderr, never in stdout.
# shellcheck disable=SC2016
out=$(printf 'abc' | vm --verbose -- sh -c "$kmsg"'; head -c 100000 | od -An -c; echo "rc=$?"' 2>"$TMP/e")
expect_eq "short stdin, --verbose: stdout is the command's alone ($(tail -c 300 "$TMP/e"))" \
	"$(tr -s ' ' <<<"$out")" " a b c
rc=0"
grep -q KMSG-ERR-MARK "$TMP/e" || fail "kmsg --verbose: not on stderr: $(tail -n 5 "$TMP/e")"
echo "short stdin, kmsg --verbose: ok"

# 4. A command that never reads a stdin that never ends, killed by a signal: minivm still ends,
# with the status of a command killed by SIGKILL.
start=$(date +%s)
# shellcheck disable=SC2016
out=$(yes | vm -- sh -c 'echo never-read; kill -9 $$' 2>"$TMP/e")
rc=$?
expect_eq "unread stdin, signal: status ($(tail -c 300 "$TMP/e"))" "$rc" 137
expect_eq "unread stdin: output" "$out" "never-read"
echo "unread stdin, killed by a signal: ok ($(($(date +%s) - start)) s)"

# 5. -t: a terminal in the guest (hvc0) at the host terminal's size, raw on the host side (the
# \r typed becomes the guest terminal's \n), SIGWINCH followed.
cat >"$TMP/ptyrun.py" <<'PY'
import fcntl, os, pty, select, struct, sys, termios, time
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    os.execvp(argv[0], argv)
buf = b""
def until(mark, t=240):
    global buf
    end = time.time() + t
    while mark not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            sys.exit("timeout waiting for %r in %r" % (mark, buf[-500:]))
        try:
            d = os.read(fd, 65536)
        except OSError:
            d = b""
        if not d:
            sys.exit("eof waiting for %r in %r" % (mark, buf[-500:]))
        buf += d
until(b"READY")
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # SIGWINCH
time.sleep(2)
os.write(fd, b"typed line\r")
until(b"DONE")
try:
    while os.read(fd, 65536):
        pass
except OSError:
    pass
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
sys.exit(os.waitstatus_to_exitcode(st))
PY
# shellcheck disable=SC2016
tcmd='tty; stty size; echo READY; read l; echo "got:$l"; stty size; echo DONE; exit 5'
# sizes are the host terminal's, set before minivm starts (30x100), then 40x120
"$PY" "$TMP/ptyrun.py" "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" -t \
	-- sh -c "$tcmd" >"$TMP/t" 2>&1
rc=$?
out=$(tr -d '\r' <"$TMP/t")
expect_eq "tty: status ($out)" "$rc" 5
expect_contains "tty: a terminal ($out)" "$out" "/dev/hvc0"
expect_contains "tty: the initial size" "$out" "30 100"
expect_contains "tty: raw input, a line" "$out" "got:typed line"
expect_contains "tty: the size after SIGWINCH" "$out" "40 120"
echo "tty: ok"
