#!/usr/bin/env bash
# memlab provisioning: the one script for a bare Debian/Ubuntu host, CI and
# the Vagrant VM (Ubuntu 16.04..22.04). Run as root.
#
#   vagrant/provision.sh              install what is missing, start Docker
#   vagrant/provision.sh --check      report what is missing; change nothing
#   vagrant/provision.sh --no-docker  install, but leave the Docker engine alone
#
# Idempotent: a second run installs nothing and only verifies. apt-get update
# runs at most once, and only when something must be installed.
#
# Environment:
#   MEMLAB_DOCKERD_FLAGS  extra flags for a dockerd started by this script
#   MEMLAB_DOCKERD_WAIT   seconds to wait for the engine (default 60)
#   MEMLAB_GO_VERSION     Go toolchain to install when go is missing or too
#                         old (default: read from go.mod's go/toolchain line)
#
# Exit status: 0 ok; 1 something missing (--check) or provisioning failed;
# 2 usage error.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

readonly DOCKERD_LOG=/var/log/memlab-dockerd.log
readonly DOCKERD_PIDFILE=/run/memlab-dockerd.pid
readonly DOCKER_SOCK=/var/run/docker.sock
readonly DOCKERD_WAIT=${MEMLAB_DOCKERD_WAIT:-60}
readonly GO_ROOT=/usr/local/go
# go >= 1.21 understands GOTOOLCHAIN and can switch to go.mod's version.
readonly GO_MIN_SWITCH=1.21

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly GO_MOD=${SCRIPT_DIR}/../go.mod

say() { printf 'provision: %s\n' "$*"; }
die() { printf 'provision: error: %s\n' "$*" >&2; exit 1; }

usage() { # usage [STATUS]
	sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit "${1:-2}"
}

CHECK=0
DOCKER=1
for arg in "$@"; do
	case $arg in
	--check) CHECK=1 ;;
	--no-docker) DOCKER=0 ;;
	-h | --help) usage 0 ;;
	*) printf 'provision: error: unknown argument %q\n' "$arg" >&2; usage ;;
	esac
done

if [[ $CHECK -eq 0 && $EUID -ne 0 ]]; then
	die "must run as root (try: sudo $0 $*)"
fi

# ---------------------------------------------------------------- helpers

have() { command -v "$1" >/dev/null 2>&1; }

pkg_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

# version_ge A B: A >= B for dotted versions (1.19.8 >= 1.21 is false).
version_ge() {
	[[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]
}

APT_UPDATED=0
apt_update_once() {
	[[ $APT_UPDATED -eq 1 ]] && return 0
	say "apt-get update"
	# A broken third-party source must not stop us when the Debian/Ubuntu
	# archive itself answered; apt-get install below reports what is missing.
	if ! apt-get update -q >/dev/null; then
		say "warning: apt-get update reported errors; trying to install anyway"
	fi
	APT_UPDATED=1
}

apt_candidate() {
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

POLICY_RC_D=/usr/sbin/policy-rc.d
POLICY_RC_D_OURS=0
cleanup() {
	if [[ $POLICY_RC_D_OURS -eq 1 ]]; then
		rm -f "$POLICY_RC_D"
	fi
	if [[ -n ${GO_TMP:-} ]]; then
		rm -rf "$GO_TMP"
	fi
}
trap cleanup EXIT

apt_install() {
	apt_update_once
	# Keep package scripts from starting daemons (docker, containerd) with
	# their default settings: this script starts the engine itself below.
	if [[ ! -e $POLICY_RC_D ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D"
		chmod 0755 "$POLICY_RC_D"
		POLICY_RC_D_OURS=1
	fi
	say "apt-get install $*"
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"$@" >/dev/null
	if [[ $POLICY_RC_D_OURS -eq 1 ]]; then
		rm -f "$POLICY_RC_D"
		POLICY_RC_D_OURS=0
	fi
}

# ---------------------------------------------------------------- packages

# package:probe — the probe says whether what we need is already there, so
# a host with e.g. docker-ce instead of docker.io is not touched.
REQUIRED=(
	"stress:have stress"
	"busybox-static:pkg_installed busybox-static"
	"cpio:have cpio"
	"procps:have ps && have pgrep"
	"docker.io:have dockerd && have docker"
	"qemu-system-x86:have qemu-system-x86_64"
	"e2fsprogs:have mkfs.ext4 && have debugfs"
	"shellcheck:have shellcheck"
)

MISSING=()
for entry in "${REQUIRED[@]}"; do
	pkg=${entry%%:*}
	probe=${entry#*:}
	if ! eval "$probe"; then
		MISSING+=("$pkg")
	fi
done

# Optional packages, installed only where the archive has them: vagrant
# (make lint-vm validates the Vagrantfile; Debian 12 has it), chromium
# (the HTML report's browser test; Ubuntu ships it only as a snap, so there
# the test skips and says why) and mmdebstrap.
OPTIONAL_NOTES=()
optional() { # optional PACKAGE COMMAND
	local pkg=$1 cmd=$2 cand
	have "$cmd" && return 0
	cand=$(apt_candidate "$pkg")
	if [[ -z $cand || $cand == "(none)" ]] && [[ ${#MISSING[@]} -gt 0 && $CHECK -eq 0 ]]; then
		# The cache may simply be empty (fresh cloud image): ask again
		# after the update we are about to do anyway.
		apt_update_once
		cand=$(apt_candidate "$pkg")
	fi
	if [[ -n $cand && $cand != "(none)" ]]; then
		MISSING+=("$pkg")
	else
		OPTIONAL_NOTES+=("$pkg: not available from apt here; skipped (optional)")
	fi
}
optional vagrant vagrant
optional chromium chromium
# mmdebstrap builds the matrix's Docker guest disk (Debian 10 and Ubuntu
# 20.04 on have it); without it the Docker cells are skipped, saying why.
optional mmdebstrap mmdebstrap

# ---------------------------------------------------------------- Go

# The Go toolchain memlab needs: go.mod's toolchain line, else its go line.
go_wanted() {
	local v=${MEMLAB_GO_VERSION:-}
	if [[ -z $v && -r $GO_MOD ]]; then
		v=$(awk '$1 == "toolchain" {sub(/^go/, "", $2); print $2; exit}' "$GO_MOD")
		[[ -n $v ]] || v=$(awk '$1 == "go" {print $2; exit}' "$GO_MOD")
	fi
	v=${v:-1.26.0}
	[[ $v == *.*.* ]] || v=$v.0 # "go 1.26" means the toolchain go1.26.0
	printf '%s\n' "$v"
}

go_bin() {
	if have go; then
		command -v go
	elif [[ -x $GO_ROOT/bin/go ]]; then
		printf '%s\n' "$GO_ROOT/bin/go"
	fi
}

go_version_of() { # go_version_of /path/to/go -> 1.19.8
	"$1" version 2>/dev/null | awk '{sub(/^go/, "", $3); print $3}'
}

GO_WANTED=$(go_wanted)
GO_PROBLEM=""
GO_BIN=$(go_bin)
if [[ -z $GO_BIN ]]; then
	GO_PROBLEM="go: missing (want go$GO_WANTED)"
else
	GO_HAVE=$(go_version_of "$GO_BIN")
	if ! version_ge "${GO_HAVE:-0}" "$GO_MIN_SWITCH"; then
		GO_PROBLEM="go: $GO_BIN is go${GO_HAVE:-?}, too old to read go.mod (needs >= $GO_MIN_SWITCH for GOTOOLCHAIN; want go$GO_WANTED)"
	fi
fi

# Distribution golang-go packages all predate GOTOOLCHAIN (Debian 12: 1.19,
# Ubuntu 22.04: 1.18, 20.04: 1.13, 18.04: 1.10, 16.04: 1.6) and fail on
# go.mod ("invalid go version '1.26.0'", "unknown directive: tool"). So we
# install go.mod's toolchain itself: the module golang.org/toolchain from
# the Go module proxy (what GOTOOLCHAIN=auto would fetch), checked against
# the checksum database (through the proxy) with the module h1: hash.
go_proxy() {
	local p
	IFS=',|' read -r -a proxies <<<"${GOPROXY:-https://proxy.golang.org}"
	for p in "${proxies[@]}"; do
		case $p in http://* | https://*) printf '%s\n' "${p%/}"; return 0 ;; esac
	done
	printf 'https://proxy.golang.org\n'
}

go_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) die "go: no toolchain for machine $(uname -m)" ;;
	esac
}

# h1: hash of an extracted module tree (golang.org/x/mod/sumdb/dirhash Hash1).
module_h1() {
	local hex bin="" i
	hex=$(cd "$1" && find . -type f | sed 's|^\./||' | sort |
		tr '\n' '\0' | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
	for ((i = 0; i < ${#hex}; i += 2)); do bin+="\\x${hex:i:2}"; done
	printf '%b' "$bin" | base64
}

install_go() {
	local proxy mod ver url want got
	for t in curl unzip; do
		have "$t" || apt_install curl unzip ca-certificates
	done
	proxy=$(go_proxy)
	mod=golang.org/toolchain
	ver=v0.0.1-go$GO_WANTED.linux-$(go_arch)
	GO_TMP=$(mktemp -d /tmp/memlab-go.XXXXXX)
	say "go: fetching $mod@$ver from $proxy"
	url=$proxy/$mod/@v/$ver.zip
	curl -fsSL --retry 3 -o "$GO_TMP/go.zip" "$url" || die "go: cannot download $url"
	want=$(curl -fsSL --retry 3 "$proxy/sumdb/sum.golang.org/lookup/$mod@$ver" |
		awk -v m="$mod" -v v="$ver" '$1 == m && $2 == v {print $3; exit}') ||
		die "go: cannot look up $mod@$ver in the checksum database"
	[[ -n $want ]] || die "go: no checksum for $mod@$ver"
	unzip -q "$GO_TMP/go.zip" -d "$GO_TMP/x"
	got=h1:$(module_h1 "$GO_TMP/x")
	[[ $got == "$want" ]] || die "go: checksum mismatch for $mod@$ver: got $got, want $want"
	rm -rf "$GO_ROOT"
	mv "$GO_TMP/x/$mod@$ver" "$GO_ROOT"
	# The zip stores no modes: restore exec bits on the binaries.
	chmod -R a+rX "$GO_ROOT"
	find "$GO_ROOT/bin" "$GO_ROOT/pkg/tool" -type f -exec chmod 0755 {} +
	mkdir -p /usr/local/bin
	ln -sfn "$GO_ROOT/bin/go" /usr/local/bin/go
	ln -sfn "$GO_ROOT/bin/gofmt" /usr/local/bin/gofmt
	rm -rf "$GO_TMP"
	GO_TMP=""
	say "go: installed $("$GO_ROOT/bin/go" version)"
}

# ---------------------------------------------------------------- --check

if [[ $CHECK -eq 1 ]]; then
	status=0
	# ${a[@]+"${a[@]}"}: bash < 4.4 (Ubuntu 16.04) calls an empty array unbound.
	for pkg in ${MISSING[@]+"${MISSING[@]}"}; do
		say "missing: $pkg"
		status=1
	done
	if [[ -n $GO_PROBLEM ]]; then
		say "missing: $GO_PROBLEM"
		status=1
	fi
	for note in ${OPTIONAL_NOTES[@]+"${OPTIONAL_NOTES[@]}"}; do say "$note"; done
	if [[ $DOCKER -eq 1 ]]; then
		if have docker && docker version >/dev/null 2>&1; then
			say "docker: engine answers on $DOCKER_SOCK"
		else
			say "missing: docker engine (no answer on $DOCKER_SOCK)"
			status=1
		fi
	fi
	[[ $status -eq 0 ]] && say "nothing missing"
	exit "$status"
fi

# ---------------------------------------------------------------- install

if [[ ${#MISSING[@]} -gt 0 ]]; then
	apt_install "${MISSING[@]}"
	for entry in "${REQUIRED[@]}"; do
		eval "${entry#*:}" || die "${entry%%:*}: still missing after apt-get install"
	done
else
	say "packages: all present"
fi
for note in ${OPTIONAL_NOTES[@]+"${OPTIONAL_NOTES[@]}"}; do say "$note"; done

if [[ -n $GO_PROBLEM ]]; then
	say "$GO_PROBLEM"
	install_go
else
	say "go: $("$GO_BIN" version | cut -d' ' -f3-)"
fi

# ---------------------------------------------------------------- docker

docker_answers() { timeout 10 docker version >/dev/null 2>&1; }

# Decide dockerd's flags by probing what this host can do.
dockerd_flags() {
	FLAGS=(--pidfile "$DOCKERD_PIDFILE")
	# Without systemd the default driver is cgroupfs already; say it anyway,
	# unless daemon.json sets it (dockerd refuses a flag set twice).
	if ! grep -qs 'native.cgroupdriver' /etc/docker/daemon.json; then
		FLAGS+=(--exec-opt native.cgroupdriver=cgroupfs)
	fi
	# Containers run with --network none; the default bridge needs the
	# bridge driver and iptables' nat table. Drop them only if missing.
	if ! have iptables || ! iptables -w -t nat -S >/dev/null 2>&1; then
		say "dockerd: iptables nat table unusable here: adding --iptables=false"
		FLAGS+=(--iptables=false)
	fi
	if have ip && ! ip link add memlab-probe0 type bridge >/dev/null 2>&1; then
		say "dockerd: cannot create a bridge here: adding --bridge=none"
		FLAGS+=(--bridge=none)
	else
		ip link del memlab-probe0 >/dev/null 2>&1 || true
	fi
	if [[ -n ${MEMLAB_DOCKERD_FLAGS:-} ]]; then
		local extra
		read -r -a extra <<<"$MEMLAB_DOCKERD_FLAGS"
		FLAGS+=(${extra[@]+"${extra[@]}"})
	fi
}

dockerd_last_error() {
	grep -E 'level=(fatal|error)|^failed|Error' "$DOCKERD_LOG" 2>/dev/null | tail -n1 | cut -c1-300
}

wait_docker() { # wait_docker PID|"" — until docker answers or PID dies
	local pid=$1 i
	for ((i = 0; i < DOCKERD_WAIT; i++)); do
		docker_answers && return 0
		if [[ -n $pid ]] && ! alive "$pid"; then
			die "dockerd exited: $(dockerd_last_error); see $DOCKERD_LOG"
		fi
		sleep 1
	done
	die "docker engine did not answer within ${DOCKERD_WAIT}s; see $DOCKERD_LOG"
}

start_docker_systemd() {
	# With systemd, dockerd would pick the systemd driver on cgroup v2.
	# labs/docker finds a container's cgroup under either driver, but pin
	# cgroupfs (docker/<id>) so that every engine this script starts is alike.
	if [[ ! -e /etc/docker/daemon.json ]]; then
		mkdir -p /etc/docker
		printf '{\n  "exec-opts": ["native.cgroupdriver=cgroupfs"]\n}\n' >/etc/docker/daemon.json
		say "docker: wrote /etc/docker/daemon.json (cgroupfs driver)"
	fi
	say "docker: systemctl enable --now docker"
	systemctl enable docker >/dev/null 2>&1 || true
	systemctl restart docker || die "systemctl restart docker failed; see: journalctl -u docker"
	wait_docker ""
}

# alive PID: the process runs. A dockerd that has exited but is not reaped
# yet (a zombie, for a few seconds after the engine stops) still has its
# PID and its name, and kill -0 and pgrep both still find it.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ -n $stat && ${stat%% *} != Z ]]
}

# running_dockerd: the PID of a dockerd that runs, if any.
running_dockerd() {
	local pid
	for pid in $(pgrep -x dockerd); do
		if alive "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

start_docker_direct() {
	local pid other
	if [[ -s $DOCKERD_PIDFILE ]]; then
		pid=$(<"$DOCKERD_PIDFILE")
		if alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]; then
			say "docker: dockerd (pid $pid) is running but not answering yet; waiting"
			wait_docker "$pid"
			return 0
		fi
		rm -f "$DOCKERD_PIDFILE" # stale
	fi
	if other=$(running_dockerd); then
		die "a dockerd not started by memlab runs (pid $other) but $DOCKER_SOCK does not answer; stop it or fix it"
	fi
	dockerd_flags
	say "docker: starting dockerd ${FLAGS[*]} (log $DOCKERD_LOG)"
	printf '\n=== %s provision: dockerd %s\n' "$(date -Is)" "${FLAGS[*]}" >>"$DOCKERD_LOG"
	# The daemon outlives this script: it must not keep the caller's other
	# descriptors open (a lock held by `flock make labs`, make's jobserver
	# pipe, a CI step's log pipe would then stay open as long as dockerd).
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
		done
		exec setsid nohup dockerd "${FLAGS[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null
	) &
	pid=$!
	wait_docker "$pid"
}

if [[ $DOCKER -eq 0 ]]; then
	say "docker: skipped (--no-docker)"
else
	if docker_answers; then
		say "docker: engine answers on $DOCKER_SOCK"
	elif [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
		start_docker_systemd
	else
		start_docker_direct
	fi
	info=$(docker info --format '{{.CgroupDriver}} {{.Driver}}' 2>/dev/null) ||
		die "docker info failed"
	read -r cg_driver storage <<<"$info"
	# CgroupVersion came with engine 20.10 (API 1.41); asking an older one
	# (Ubuntu 16.04's docker.io 18.09) fails the whole template. Those know v1 only.
	cg_version=$(docker info --format '{{.CgroupVersion}}' 2>/dev/null) || cg_version=1
	[[ $cg_version == [12] ]] || cg_version=1
	ver=$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')
	say "docker: engine $ver, cgroup driver $cg_driver, cgroup v$cg_version, storage $storage"
	case $cg_driver in
	cgroupfs) ;;
	systemd) say "docker: the systemd driver puts containers in system.slice/docker-<id>.scope, the article's layout; the labs find it there" ;;
	*) die "docker uses the $cg_driver cgroup driver, which memlab does not know (set exec-opts native.cgroupdriver=cgroupfs in /etc/docker/daemon.json)" ;;
	esac
fi

say "done"
