#!/usr/bin/env bash
# memlab on the host side of the student VMs: run the labs inside a Vagrant
# VM and bring the reports back. mk/vm.mk calls it; it needs no root, and it
# runs under macOS's bash 3.2.
#
#   vagrant/vm.sh lab-machine         "yes", or "no: WHY": can this machine run the labs itself?
#   vagrant/vm.sh running             the VMs that are up, one per line
#   vagrant/vm.sh labs VM [DIR]       `sudo make labs` in VM; its reports into DIR (default reports)
#   vagrant/vm.sh delegate [VM]       labs in VM, else in xenial or the first VM that is up
#   vagrant/vm.sh matrix              labs in every VM that is up, reports/vm/VM/, then
#                                     reports/vm-matrix.{md,json}: claims x (VM, cgroup mode)
#   vagrant/vm.sh validate            vagrant validate, with and without provider blocks
#
# Reports come back through `vagrant ssh` as base64 between two marker lines,
# whatever the synced folder (VirtualBox's two-way share, or one-way rsync):
# no root, no plugin, no scp, and chatter on stdout cannot corrupt them.
#
# Environment:
#   VAGRANT          the vagrant command (default: vagrant)
#   MEMLAB_VM_ROOT   the repository on the host (default: this script's ..)
#   LABEL_FILTER     passed to the guest's `make labs`
#   GO               the go command that runs `memlab vm-matrix` from this
#                    repository to make the table (default: go)
#
# Exit status: the guest's `make labs` status when it failed, else 1 for
# any other failure, 2 for usage.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
ROOT=${MEMLAB_VM_ROOT:-$REPO}
VAGRANT=${VAGRANT:-vagrant}
BEGIN_MARK=memlab-reports-begin
END_MARK=memlab-reports-end

say() { printf 'memlab: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# lab_machine: 0 when this machine runs the labs itself; else prints why not.
lab_machine() {
	local os m
	os=$(uname -s)
	if [[ $os != Linux ]]; then
		echo "this is $os, not Linux"
		return 1
	fi
	if [[ $(id -u) != 0 ]]; then
		echo "not root"
		return 1
	fi
	# v1: a cgroup mount with the memory controller. v2: a cgroup2 mount
	# whose cgroup.controllers lists memory.
	if awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ {f = 1} END {exit !f}' /proc/mounts 2>/dev/null; then
		return 0
	fi
	while read -r m; do
		if grep -qw memory "$m/cgroup.controllers" 2>/dev/null; then
			return 0
		fi
	done < <(awk '$3 == "cgroup2" {print $2}' /proc/mounts 2>/dev/null)
	echo "no cgroup filesystem with the memory controller (see /proc/mounts)"
	return 1
}

# running: the machines `vagrant status` calls running.
running() {
	local out
	out=$(cd "$ROOT" && "$VAGRANT" status --machine-readable 2>/dev/null) || return 1
	printf '%s\n' "$out" | awk -F, '$3 == "state" && $4 == "running" {print $2}'
}

is_running() { # is_running VM LIST
	printf '%s\n' "$2" | grep -qx "$1"
}

# labs VM DIR: run the labs in VM, then copy DIR's report files back.
labs() {
	local vm=$1 dir=${2:-reports} ssh_args=() cmd status=0
	case $dir in /* | *..* | *[!A-Za-z0-9._/-]*) die "report directory must be a plain relative path: $dir" ;; esac
	# vagrant ssh -c asks ssh for a terminal; without one here, say -T.
	[[ -t 0 && -t 1 ]] || ssh_args=(-- -T)
	say "$vm: vagrant rsync (nothing to do with VirtualBox's shared folder)"
	if ! (cd "$ROOT" && "$VAGRANT" rsync "$vm"); then
		say "$vm: vagrant rsync failed; is the VM up? (vagrant up $vm)"
		return 1
	fi
	# MEMLAB_LAB_MACHINE=yes: the guest runs the labs itself, never delegates on.
	cmd="cd /vagrant && sudo -H make labs REPORTS=$dir MEMLAB_LAB_MACHINE=yes"
	if [[ -n ${LABEL_FILTER:-} ]]; then
		# vagrant runs the command as bash -l -c '...': no single quotes.
		[[ $LABEL_FILTER != *"'"* ]] || die "LABEL_FILTER may not contain a single quote"
		cmd+=" $(printf '%q' "LABEL_FILTER=$LABEL_FILTER")"
	fi
	say "$vm: $cmd"
	(cd "$ROOT" && "$VAGRANT" ssh "$vm" -c "$cmd" ${ssh_args[@]+"${ssh_args[@]}"}) || status=$?
	fetch_reports "$vm" "$dir" || { [[ $status -ne 0 ]] || status=1; }
	return "$status"
}

# fetch_reports VM DIR: the regular files directly in the guest's
# /vagrant/DIR, into DIR on the host (over what is there). In a subshell,
# for the EXIT trap.
fetch_reports() (
	vm=$1 dir=$2
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/memlab-vm.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# The end mark only follows a tar and a base64 that both succeeded. No
	# single quotes: vagrant wraps the command in them.
	cmd="cd /vagrant/$dir 2>/dev/null && files=\$(find . -maxdepth 1 -type f | sort); echo $BEGIN_MARK;"
	cmd+=" if [ -z \"\$files\" ]; then echo $END_MARK; else t=\$(mktemp) &&"
	cmd+=" tar -cf \"\$t\" \$files && base64 \"\$t\" && rm -f \"\$t\" && echo $END_MARK; fi"
	# -T: no terminal, so nothing rewrites the stream (vagrant ssh asks for one).
	(cd "$ROOT" && "$VAGRANT" ssh "$vm" -c "$cmd" -- -T) >"$tmp/stream" ||
		say "$vm: fetching reports: vagrant ssh exited $?"
	# Keep what lies between the marks; a missing end mark means a cut stream.
	if ! awk -v b="$BEGIN_MARK" -v e="$END_MARK" '
		{ sub(/\r$/, "") }
		$0 == e && on { done = 1; exit }
		on { print }
		$0 == b { on = 1 }
		END { exit !done }' "$tmp/stream" >"$tmp/b64"; then
		say "$vm: no reports came back from /vagrant/$dir"
		exit 1
	fi
	if [[ ! -s $tmp/b64 ]]; then
		say "$vm: the labs wrote no reports in /vagrant/$dir"
		exit 1
	fi
	mkdir -p "$tmp/x" "$ROOT/$dir"
	if ! base64 --decode <"$tmp/b64" | (cd "$tmp/x" && tar -xf -); then
		say "$vm: the reports arrived damaged"
		exit 1
	fi
	cp -R "$tmp/x/." "$ROOT/$dir/"
	n=$(find "$tmp/x" -type f | wc -l | tr -d ' ')
	say "$vm: $n report files in $dir/"
)

delegate() {
	local want=${1:-} vms vm why
	why=$(lab_machine) && why="" # a lab machine runs `make labs` itself; say so anyway
	if ! command -v "$VAGRANT" >/dev/null 2>&1; then
		die "this machine cannot run the labs itself${why:+ ($why)} and vagrant is not installed: run 'sudo make labs' on a Linux machine, or see docs/student-vm.md"
	fi
	vms=$(running) || vms=""
	if [[ -n $want ]]; then
		is_running "$want" "$vms" || die "this machine cannot run the labs itself${why:+ ($why)} and VM $want is not running: 'vagrant up $want', then 'make labs' again"
		vm=$want
	elif is_running xenial "$vms"; then
		vm=xenial
	else
		vm=$(printf '%s\n' "$vms" | sed -n '1p')
	fi
	if [[ -z $vm ]]; then
		die "this machine cannot run the labs itself${why:+ ($why)} and no memlab VM is running: 'vagrant up' first, then 'make labs' (or 'sudo make labs' on a Linux machine with the memory controller)"
	fi
	say "this machine cannot run the labs itself${why:+ ($why)}: running them in VM $vm"
	labs "$vm" reports
}

matrix() {
	local vms vm status=0 pairs=()
	vms=$(running) || die "vagrant status failed: is vagrant installed? (see docs/student-vm.md)"
	[[ -n $vms ]] || die "no memlab VM is running: 'vagrant up', or 'vagrant up xenial bionic focal jammy'"
	if ! command -v "${GO:-go}" >/dev/null 2>&1; then
		die "make vm-matrix builds its table with Go on this machine, and there is no '${GO:-go}' here: install Go (go.mod's version), or run 'make vm-labs VM=NAME' for each VM"
	fi
	for vm in $vms; do
		say "===== $vm"
		rm -f "$ROOT/reports/vm/$vm/claims.json"
		labs "$vm" "reports/vm/$vm" || { status=$?; say "$vm: labs exited $status"; }
		pairs+=("$vm=$ROOT/reports/vm/$vm/claims.json")
	done
	(cd "$REPO" && "${GO:-go}" run ./labs/cmd/memlab vm-matrix --out "$ROOT/reports" "${pairs[@]}") || status=$?
	return "$status"
}

# validate: the Vagrantfile without provider blocks (what any vagrant can
# check), then with VirtualBox's (a stub VBoxManage stands in when VirtualBox
# is absent: validation only asks its version), then libvirt's when the
# vagrant-libvirt plugin is there.
validate() (
	command -v "$VAGRANT" >/dev/null 2>&1 || die "vagrant is not installed (Debian/Ubuntu: apt-get install vagrant)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/memlab-validate.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# No .vagrant/ in the repository, no call home.
	export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_DOTFILE_PATH=$tmp/dot
	cd "$ROOT"
	say "vagrant validate --ignore-provider"
	"$VAGRANT" validate --ignore-provider
	if ! command -v VBoxManage >/dev/null 2>&1; then
		mkdir -p "$tmp/bin"
		# shellcheck disable=SC2016 # $1 is the stub's
		printf '#!/bin/sh\n[ "$1" = --version ] && echo 7.0.0r0\nexit 0\n' >"$tmp/bin/VBoxManage"
		chmod +x "$tmp/bin/VBoxManage"
	fi
	say "vagrant validate (provider virtualbox)"
	PATH=$tmp/bin:$PATH VAGRANT_DEFAULT_PROVIDER=virtualbox "$VAGRANT" validate
	if "$VAGRANT" plugin list 2>/dev/null | grep -q '^vagrant-libvirt '; then
		say "vagrant validate (provider libvirt)"
		VAGRANT_DEFAULT_PROVIDER=libvirt "$VAGRANT" validate
	else
		say "vagrant-libvirt is not installed: the libvirt block is not validated"
	fi
)

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
lab-machine)
	if why=$(lab_machine); then echo yes; else echo "no: $why"; fi
	;;
running) running ;;
labs)
	[[ $# -ge 1 && $# -le 2 ]] || usage
	labs "$@"
	;;
delegate)
	[[ $# -le 1 ]] || usage
	delegate "$@"
	;;
matrix)
	[[ $# -eq 0 ]] || usage
	matrix
	;;
validate)
	[[ $# -eq 0 ]] || usage
	validate
	;;
-h | --help) usage ;;
*) usage ;;
esac
