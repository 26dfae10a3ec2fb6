#!/usr/bin/env bash
# OCI config-linux.md "sysctl", "maskedPaths", "readonlyPaths", "rootfsPropagation",
# "seccomp" (none unless asked, ERRNO with errnoRet and the EPERM default, argument
# conditions, KILL), and settings the host cannot apply (apparmorProfile, mountLabel without
# AppArmor/SELinux) failing create. Checked with ct_probe under minict and runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init misc
B=$T/b
conf_bundle "$B"
mkdir -p "$B/rootfs/conf/secretdir" "$B/rootfs/conf/rodir"
echo secret >"$B/rootfs/conf/secret"
echo secret >"$B/rootfs/conf/secretdir/file"

# 1. sysctl (namespaced keys: net and ipc), maskedPaths (a file reads empty, a directory
# shows nothing), readonlyPaths (EROFS), rootfsPropagation shared; no seccomp section = no
# filter (config-linux.md: seccomp is OPTIONAL; nothing asks for a filter here)
cfg "$B" '
c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
c["linux"]["maskedPaths"] = ["/conf/secret", "/conf/secretdir"]
c["linux"]["readonlyPaths"] = ["/conf/rodir"]
c["linux"]["rootfsPropagation"] = "shared"
c["linux"].pop("seccomp", None)
c["process"]["noNewPrivileges"] = False
'
# runc 1.1.5 applies rootfsPropagation to the mount tree before it bind-mounts the rootfs and
# then makes the rootfs's parent private: the container's / ends up private, not shared.
runc_deviates "rootfsPropagation shared: / is shared" "runc 1.1.5 leaves the container's / private"
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}misc-$r" ct_probe sysctl net.ipv4.ip_forward \
		sysctl kernel.shm_rmid_forced read /conf/secret cat /conf/secret \
		stat /conf/secretdir/file write /conf/secret write /conf/rodir/x mounts status
	check "$r" "runs with sysctl, masked/readonly paths" '[ "$RC" = 0 ]'
	want "$r" "sysctl net.ipv4.ip_forward" '^sysctl net.ipv4.ip_forward 1$'
	want "$r" "sysctl kernel.shm_rmid_forced" '^sysctl kernel.shm_rmid_forced 1$'
	want "$r" "maskedPaths: a file reads empty" '^read /conf/secret ok 0$'
	want_not "$r" "maskedPaths: the file's content is hidden" '^secret$'
	want "$r" "maskedPaths: a directory's entries are hidden" '^stat /conf/secretdir/file ENOENT$'
	want "$r" "readonlyPaths: write fails EROFS" '^write /conf/rodir/x EROFS$'
	want "$r" "readonlyPaths: mounted ro" '^mount /conf/rodir [^ ]+ ro[, ]'
	want "$r" "rootfsPropagation shared: / is shared" '^mount / [^ ]+ [^ ]+ [^ ]+ shared:'
	want "$r" "no linux.seccomp: no filter" '^seccomp 0$'
done
agree "sysctl/masked/readonly" "${P}misc" sysctl "read /conf/secret" "stat /conf/secretdir" "write" seccomp
# the host's sysctls are untouched
[ "$(cat /proc/sys/kernel/shm_rmid_forced)" = 0 ] || echo "note: the host's kernel.shm_rmid_forced is not 0"

# 2. rootfsPropagation private
cfg "$B" 'c["linux"]["rootfsPropagation"] = "private"'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}priv-$r" ct_probe mounts
	want "$r" "rootfsPropagation private: / is private" '^mount / [^ ]+ [^ ]+ [^ ]+ private$'
done

# 3. seccomp: ERRNO with errnoRet, ERRNO without errnoRet (EPERM), an argument condition,
# the filter is loaded (Seccomp: 2) and other syscalls still work
cfg "$B" '
del c["linux"]["rootfsPropagation"]
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
    {"names": ["uname"], "action": "SCMP_ACT_ERRNO"},
    {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
     "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]}]}
'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}sc-$r" ct_probe syscall mkdirat syscall mkdir syscall uname \
		syscall socket syscall getcwd status
	check "$r" "runs with a seccomp profile" '[ "$RC" = 0 ]'
	want "$r" "seccomp: the filter is loaded" '^seccomp 2$'
	want "$r" "seccomp: ERRNO errnoRet 13 (mkdirat)" '^syscall mkdirat EACCES$'
	want "$r" "seccomp: ERRNO errnoRet 13 (mkdir)" '^syscall mkdir EACCES$'
	want "$r" "seccomp: ERRNO without errnoRet is EPERM" '^syscall uname EPERM$'
	want "$r" "seccomp: an argument condition that does not match allows (AF_UNIX)" '^syscall socket ok$'
	want "$r" "seccomp: defaultAction ALLOW" '^syscall getcwd ok$'
done
agree "seccomp" "${P}sc" syscall seccomp
# the argument condition matching: socket(AF_INET6=10) fails EAFNOSUPPORT
cfg "$B" 'c["linux"]["seccomp"]["syscalls"][2]["args"][0]["value"] = 1'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}sc2-$r" ct_probe syscall socket
	want "$r" "seccomp: an argument condition that matches (AF_UNIX == 1)" '^syscall socket EAFNOSUPPORT$'
done
# SCMP_ACT_KILL: the process dies of SIGSYS; run returns 128+31. (personality: a syscall
# neither runtime makes between loading the filter and execve; with getcwd, runc 1.1.5's Go
# init loses a thread to the filter and hangs.)
cfg "$B" 'c["linux"]["seccomp"]["syscalls"] = [{"names": ["personality"], "action": "SCMP_ACT_KILL"}]'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}kill-$r" ct_probe syscall getpid syscall personality syscall getcwd
	want "$r" "seccomp: before the killed syscall the process runs" '^syscall getpid ok$'
	want_not "$r" "seccomp: SCMP_ACT_KILL kills at the syscall" '^syscall (personality|getcwd)'
	check "$r" "seccomp: run's exit status is 128+SIGSYS" '[ "$RC" = 159 ]'
done

# 4. settings this host cannot apply must fail create, not be ignored: an AppArmor profile
# without AppArmor, an SELinux mount label without SELinux
cfg "$B" 'c["linux"].pop("seccomp", None)'
if [ ! -e /sys/module/apparmor/parameters/enabled ] || [ "$(cat /sys/module/apparmor/parameters/enabled)" != Y ]; then
	cfg "$B" 'c["process"]["apparmorProfile"] = "conf-profile"'
	for r in $RUNTIMES; do
		rt "$r" create --bundle "$B" "${P}aa-$r" >"$T/out" 2>"$T/err" </dev/null
		RC=$? OUT=$T/out ERR=$T/err
		check "$r" "apparmorProfile without AppArmor fails create" '[ "$RC" != 0 ]'
		rt "$r" delete -f "${P}aa-$r" >/dev/null 2>&1
	done
	cfg "$B" 'del c["process"]["apparmorProfile"]'
fi
if [ ! -d /sys/fs/selinux ]; then
	cfg "$B" 'c["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"'
	for r in $RUNTIMES; do
		rt "$r" create --bundle "$B" "${P}ml-$r" >"$T/out" 2>"$T/err" </dev/null
		RC=$? OUT=$T/out ERR=$T/err
		check "$r" "mountLabel without SELinux fails create" '[ "$RC" != 0 ]'
		rt "$r" delete -f "${P}ml-$r" >/dev/null 2>&1
	done
fi
conf_done
