# Helpers for the tests where a real OCI client drives minict (docker, containerd, podman, a
# `runc spec` bundle). Sourced after runtime_lib.bash. Provides:
#   SEC_RE                 the /proc/self/status lines compared against runc: capability sets,
#                          no_new_privs and the seccomp mode
#   SEC_CMD                a shell command (for `sh -c` in a container) printing those lines
#   mk_rootfs_tar DIR TAR  a busybox rootfs (runtime_lib's mk_rootfs) packed as TAR
#   mk_oci_archive ROOTFS-TAR OUT NAME [ARGS...]
#                          an OCI image layout tarball (one layer: ROOTFS-TAR gzipped) that
#                          `ctr image import` takes, its image named NAME, default command ARGS
#   runc_ok                runc (the baseline) is installed
#   bad MSG                record a failed check (the test goes on, so one run shows every
#                          difference); finish exits 1 if any check failed, else 0
#   same_as_runc WHAT M R  a check: minict's output M equals runc's output R (and is not empty)
#   procs_mentioning STR   pids whose command line contains STR (for leftovers checks)
#   mounts_under DIR       mount points at or under DIR
#   wait_for TRIES CMD...  run CMD every 0.2 s until it succeeds, at most TRIES times
SEC_RE='^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'
SEC_CMD="grep -E '$SEC_RE' /proc/self/status"

mk_rootfs_tar() {
	mk_rootfs "$1"
	tar -C "$1" -cf "$2" . || die "tar of $1"
}

mk_oci_archive() {
	local layer=$1 out=$2 name=$3
	shift 3
	python3 - "$layer" "$out" "$name" "$@" <<'PY' || die "building the OCI archive $out"
import gzip, hashlib, io, json, sys, tarfile, time

layer_tar, out, name, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
raw = open(layer_tar, "rb").read()
gz = gzip.compress(raw, mtime=0)
blobs = {}

def blob(data, media):
    d = hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}

config = {
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Cmd": args or ["sh"], "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    "history": [{"created_by": "minivm tests: busybox rootfs"}],
}
cfg = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
lay = blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": cfg, "layers": [lay]}
man = blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
man["annotations"] = {"io.containerd.image.name": name,
                      "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [man]}

with tarfile.open(out, "w") as t:
    def add(path, data):
        ti = tarfile.TarInfo(path)
        ti.size, ti.mtime, ti.mode = len(data), int(time.time()), 0o644
        t.addfile(ti, io.BytesIO(data))
    add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    add("index.json", json.dumps(index).encode())
    for d, data in blobs.items():
        add("blobs/sha256/" + d, data)
PY
}

runc_ok() { command -v runc >/dev/null 2>&1; }

FAILS=0
bad() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}
finish() {
	if [ "$FAILS" -gt 0 ]; then
		echo "$FAILS check(s) failed" >&2
		exit 1
	fi
	echo "all checks passed"
	exit 0
}

same_as_runc() {
	local what=$1 m=$2 r=$3
	if [ -z "$r" ]; then
		bad "$what: runc printed nothing"
	elif [ "$m" != "$r" ]; then
		printf '%s\n' "--- $what, minict:" "$m" "--- runc:" "$r" >&2
		bad "$what differs from runc's"
	else
		echo "ok: $what equals runc's"
	fi
}

procs_mentioning() {
	local f c
	for f in /proc/[0-9]*/cmdline; do
		c=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
		[[ "$c" == *"$1"* ]] && { f=${f#/proc/}; echo "${f%/cmdline} $c"; }
	done
	true
}

mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

wait_for() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
