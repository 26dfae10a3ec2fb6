#!/usr/bin/env bash
# The control API (docs/api.md) with the tiny counting guest: status, pause, resume, stop and
# their state errors through the client verbs; bad requests (not JSON, not an object, no or
# unknown command, a missing or wrong field, trailing bytes, a request over 64 KiB, an empty
# connection) each get a JSON error reply, never a dropped connection, and the server goes on;
# a live socket is not taken over, a stale one is; the socket file is gone after the VM ends,
# also when it ends in an error.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"

# raw SOCKET BYTES-FILE: send the file's bytes, half-close, print the reply
raw() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
PY
}

k=${KERNELS[0]}
S=$TMP/api.sock
vm_start api --kernel "$k" --cmdline count --cpus 2
pid=$VM_PID
wait_until "first count" counted "$TMP/api.out" 3

run_capture out rc api status "$S"
expect_eq "status: exit ($out)" "$rc" 0
expect_contains "status: state" "$out" '"state":"running"'
expect_contains "status: vCPUs" "$out" '"vcpus":2'
expect_contains "status: memory" "$out" '"memory_mib":256'
expect_contains "status: uptime" "$out" '"uptime_ms":'

run_capture out rc api pause "$S"
expect_eq "pause: exit ($out)" "$rc" 0
expect_contains "pause: state" "$out" '"state":"paused"'
expect_contains "pause: time" "$out" '"pause_ms":'
n1=$(grep -c '^count' "$TMP/api.out")
sleep 0.3
expect_eq "no counting while paused" "$(grep -c '^count' "$TMP/api.out")" "$n1"
run_capture out rc api pause "$S"
expect_eq "pause twice: exit ($out)" "$rc" 1
expect_contains "pause twice: error" "$out" '"error":"pause: the VM is paused"'
run_capture out rc api status "$S"
expect_contains "status while paused" "$out" '"state":"paused"'
run_capture out rc api resume "$S"
expect_eq "resume: exit ($out)" "$rc" 0
expect_contains "resume: state" "$out" '"state":"running"'
expect_contains "resume: time" "$out" '"resume_ms":'
wait_until "counting after resume" counted "$TMP/api.out" $((n1 + 2))
run_capture out rc api resume "$S"
expect_eq "resume while running: exit" "$rc" 1
expect_contains "resume while running: error" "$out" '"error":"resume: the VM is running"'
echo "status, pause, resume and their state errors ok"

# Bad requests: an error reply each, the server keeps serving.
# bad WHAT WANT: send $TMP/req
bad() {
	local what=$1 want=$2
	local got
	got=$(raw "$TMP/api.sock" "$TMP/req") || fail "$what: connection failed"
	expect_contains "$what" "$got" "{\"error\":\"$want"
}
printf 'hello\n' >"$TMP/req"
bad "not JSON" "request is not JSON"
printf '{"cmd": "status"' >"$TMP/req"
bad "cut short" "request is not JSON: cut short"
printf '[1,2]\n' >"$TMP/req"
bad "not an object" "request must be a JSON object"
printf '{}\n' >"$TMP/req"
bad "no command" 'request: missing \"cmd\"'
printf '{"cmd": 7}\n' >"$TMP/req"
bad "command not a string" 'request: missing \"cmd\"'
printf '{"cmd": "reboot"}\n' >"$TMP/req"
bad "unknown command" "unknown command \`reboot\`"
printf '{"cmd": "snapshot"}\n' >"$TMP/req"
bad "snapshot without path" 'snapshot: missing \"path\"'
printf '{"cmd": "snapshot", "path": 3}\n' >"$TMP/req"
bad "snapshot path not a string" 'snapshot: missing \"path\"'
printf '{"cmd": "snapshot", "path": "%s", "stop": "yes"}\n' "$TMP/s" >"$TMP/req"
bad "stop not a boolean" 'snapshot: \"stop\" must be true or false'
printf '{"cmd": "status"} x\n' >"$TMP/req"
bad "trailing bytes" "request: trailing bytes"
head -c 70000 /dev/zero | tr '\0' ' ' >"$TMP/req"
bad "request over 64 KiB" "request too large"
python3 -c 'print("{\"cmd\":\"status\",\"x\":\"" + "a" * 100000 + "\"}")' >"$TMP/req"
bad "long line" "request too large"
: | raw "$TMP/api.sock" /dev/null >"$TMP/empty" || fail "empty connection"
expect_eq "empty connection: no reply" "$(cat "$TMP/empty")" ""
printf '{"cmd":"status"}\n' >"$TMP/req"
expect_contains "raw status after the bad ones" "$(raw "$TMP/api.sock" "$TMP/req")" '"state":"running"'
[ ! -e "$TMP/s" ] || fail "a refused snapshot request left $TMP/s"
echo "bad requests: error replies ok"

# A second minivm cannot take a live socket.
run_capture out rc "$MINIVM" run --kernel "$k" --cmdline count --api "$TMP/api.sock"
expect_eq "second server on a live socket: exit ($out)" "$rc" 125
expect_contains "second server: error" "$out" "another minivm serves it"
api status "$S" >/dev/null || fail "the first server lost its socket"

run_capture out rc api stop "$S"
expect_eq "stop: exit ($out)" "$rc" 0
expect_contains "stop: reply" "$out" '"state":"stopping"'
wait "$pid"
expect_eq "exit status after stop ($(cat "$TMP/api.err"))" "$?" 0
[ ! -e "$TMP/api.sock" ] || fail "socket file left after stop"
run_capture out rc api status "$S"
expect_eq "client without a server: exit" "$rc" 125
expect_contains "client without a server: error" "$out" "connect"
echo "stop, socket removed, client error without a server ok"

# A stale socket file (its minivm died) is replaced; an error exit removes the socket too.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$TMP/api.sock"
run_capture out rc "$MINIVM" run --kernel "$k" --cmdline triple --api "$TMP/api.sock"
expect_eq "crashing guest: exit ($out)" "$rc" 125
[ ! -e "$TMP/api.sock" ] || fail "socket file left after an error exit"
printf x >"$TMP/api.sock"
run_capture out rc "$MINIVM" run --kernel "$k" --cmdline count --api "$TMP/api.sock"
expect_eq "--api on a regular file: exit" "$rc" 125
expect_contains "--api on a regular file: error" "$out" "not a socket"
expect_eq "the regular file is left alone" "$(cat "$TMP/api.sock")" x
run_capture out rc "$MINIVM" pause
expect_eq "client without --api: exit" "$rc" 2
echo "stale socket, error exit, bad paths ok"
