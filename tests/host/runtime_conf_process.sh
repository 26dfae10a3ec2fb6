#!/usr/bin/env bash
# OCI config.md "process" (user, additionalGids, umask, cwd, env, args and the exit status,
# rlimits, capabilities in all five sets, noNewPrivileges, oomScoreAdj), "hostname" and
# "domainname", checked from inside the container with ct_probe under minict and runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init process
B=$T/b
conf_bundle "$B"

# 1. user, groups, umask, cwd, env, rlimits, oomScoreAdj, noNewPrivileges, hostname,
# domainname, and the five capability sets of a non-root user (after execve without file
# capabilities, permitted and effective are exactly the ambient set; bounding and inheritable
# are as configured).
cfg "$B" '
c["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 0o027}
c["process"]["cwd"] = "/tmp"
c["process"]["env"] = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="]
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                           {"type": "RLIMIT_CORE", "soft": 1024, "hard": 2048},
                           {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600}]
c["process"]["oomScoreAdj"] = 123
c["process"]["noNewPrivileges"] = True
c["process"]["capabilities"] = {
    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    "effective": ["CAP_NET_BIND_SERVICE"],
    "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    "ambient": ["CAP_NET_BIND_SERVICE"]}
c["hostname"] = "conf-host"
c["domainname"] = "conf.example"
'
# runc 1.1.5 implements runtime-spec 1.0.2, which has no "domainname" (added in 1.1.0): it
# ignores the field.
runc_deviates "domainname" "runc 1.1.5 (spec 1.0.2) ignores domainname"
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}p1-$r" ct_probe status env rlimits
	check "$r" "process runs (user 1000)" '[ "$RC" = 0 ]'
	want "$r" "user.uid" '^uid 1000 1000 1000 1000$'
	want "$r" "user.gid" '^gid 1001 1001 1001 1001$'
	want "$r" "user.additionalGids" '^groups 10 20$'
	want "$r" "user.umask" '^umask 0027$'
	want "$r" "cwd" '^cwd /tmp$'
	want "$r" "env FOO" '^env FOO=bar baz$'
	want "$r" "env EMPTY" '^env EMPTY=$'
	want "$r" "env PATH" '^env PATH=/bin:/usr/bin$'
	want "$r" "rlimits NOFILE" '^rlimit RLIMIT_NOFILE 100 200$'
	want "$r" "rlimits CORE" '^rlimit RLIMIT_CORE 1024 2048$'
	want "$r" "rlimits NPROC" '^rlimit RLIMIT_NPROC 500 600$'
	want "$r" "oomScoreAdj" '^oom_score_adj 123$'
	want "$r" "noNewPrivileges true" '^no_new_privs 1$'
	want "$r" "capabilities.bounding" '^cap_bnd 00000000000004a1$'
	want "$r" "capabilities.inheritable" '^cap_inh 0000000000000420$'
	want "$r" "capabilities.ambient" '^cap_amb 0000000000000400$'
	want "$r" "capabilities.permitted (non-root: = ambient)" '^cap_prm 0000000000000400$'
	want "$r" "capabilities.effective (non-root: = ambient)" '^cap_eff 0000000000000400$'
	want "$r" "hostname" '^hostname conf-host$'
	want "$r" "domainname" '^domainname conf.example$'
done
agree "process (user 1000)" "${P}p1" uid gid groups umask cwd rlimit oom_score_adj \
	no_new_privs cap_bnd cap_inh cap_amb cap_prm cap_eff hostname

# 2. root: effective/permitted as configured (root's execve keeps bounding | inheritable, so
# effective = permitted = bounding here), no ambient; noNewPrivileges false; the exit status
# of process.args is run's exit status.
cfg "$B" '
c["process"]["user"] = {"uid": 0, "gid": 0}
c["process"]["cwd"] = "/"
del c["process"]["rlimits"]
del c["process"]["oomScoreAdj"]
del c["domainname"]
c["process"]["noNewPrivileges"] = False
c["process"]["capabilities"] = {
    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
    "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"]}
'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}p2-$r" ct_probe status exit 7
	check "$r" "exit status of process.args is run's" '[ "$RC" = 7 ]'
	want "$r" "root uid" '^uid 0 0 0 0$'
	want "$r" "root: capabilities.bounding" '^cap_bnd 00000000000004a1$'
	want "$r" "root: capabilities.permitted" '^cap_prm 00000000000004a1$'
	want "$r" "root: capabilities.effective" '^cap_eff 00000000000004a1$'
	want "$r" "root: capabilities.inheritable empty" '^cap_inh 0000000000000000$'
	want "$r" "root: capabilities.ambient empty" '^cap_amb 0000000000000000$'
	want "$r" "noNewPrivileges false" '^no_new_privs 0$'
	want "$r" "umask default 0022 (spec: runtime default when unset)" '^umask 0022$'
done
agree "process (root)" "${P}p2" uid cap_bnd cap_prm cap_eff cap_inh cap_amb no_new_privs

# 3. errors: an rlimit the runtime cannot apply (a hard NOFILE above the host's hard limit,
# without CAP_SYS_RESOURCE) and a process.args[0] that does not exist make create fail
# ("MUST generate an error"), and nothing is left running.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ]; then
	cfg "$B" "c['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': $((hard + 1000)), 'hard': $((hard + 1000))}]"
	for r in $RUNTIMES; do
		rt "$r" create --bundle "$B" "${P}p3-$r" >"$T/out" 2>"$T/err" </dev/null
		RC=$? OUT=$T/out ERR=$T/err
		check "$r" "an rlimit that cannot be applied fails create" '[ "$RC" != 0 ]'
		check "$r" "nothing is left after the failed create" '[ -z "$(state_field "$r" "${P}p3-$r" status)" ]'
		rt "$r" delete -f "${P}p3-$r" >/dev/null 2>&1
	done
	cfg "$B" 'del c["process"]["rlimits"]'
fi
for r in $RUNTIMES; do
	set_args "$B" /bin/no-such-binary
	rt "$r" create --bundle "$B" "${P}p4-$r" >"$T/out" 2>"$T/err" </dev/null
	RC=$? OUT=$T/out ERR=$T/err
	check "$r" "a missing process.args[0] fails create" '[ "$RC" != 0 ]'
	rt "$r" delete -f "${P}p4-$r" >/dev/null 2>&1
done
conf_done
