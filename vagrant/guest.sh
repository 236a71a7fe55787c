#!/usr/bin/env bash
# memlab inside a student VM: the Vagrantfile's provisioners, run as root.
# Vagrant uploads this file, so it works before /vagrant is there.
#
#   guest.sh swapoff       no swap now, and none from /etc/fstab at the next boot
#   guest.sh provision     vagrant/provision.sh (the script CI runs), then the Go
#                          modules, so that `make labs` needs no network afterwards
#   guest.sh swapaccount   boot with swapaccount=1 from the next boot (vagrant reload)
#
# Why no swap: the OOM claims (G5-G7, D3) assume none. With swap and no swap
# accounting, 101m of stress under a 100m limit is swapped out, not killed.
set -euo pipefail

say() { printf 'memlab: %s\n' "$*"; }

swap_off() {
	local fstab=/etc/fstab
	swapoff -a
	if [[ -f $fstab ]] && awk '$1 !~ /^#/ && $3 == "swap" {f = 1} END {exit !f}' "$fstab"; then
		cp -p "$fstab" "$fstab.memlab"
		awk '$1 !~ /^#/ && $3 == "swap" {print "# memlab: no swap: " $0; next} {print}' \
			"$fstab.memlab" >"$fstab"
		say "swap lines in $fstab commented out (the original: $fstab.memlab)"
	fi
	say "swap: $(awk '/^SwapTotal:/ {print $2, $3}' /proc/meminfo) (the OOM claims assume none)"
}

provision() {
	local i
	cd /vagrant || {
		echo "memlab: /vagrant is missing: the synced folder did not mount (see docs/student-vm.md)" >&2
		exit 1
	}
	# A first boot may still run apt: wait up to 5 minutes for its locks.
	for ((i = 0; i < 60; i++)); do
		fuser /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1 || break
		say "waiting for another apt to finish"
		sleep 5
	done
	# Run with bash: a share from a Windows host may drop the exec bit.
	bash vagrant/provision.sh
	# /vagrant belongs to the vagrant user; `sudo make labs` builds memlab,
	# and go build asks git (VCS stamping), which refuses a repository owned
	# by someone else since git 2.35.2 and its backports.
	if command -v git >/dev/null 2>&1 &&
		! git config --system --get-all safe.directory 2>/dev/null | grep -qx /vagrant; then
		git config --system --add safe.directory /vagrant
	fi
	say "go mod download ($(go version | cut -d' ' -f3))"
	go mod download
	say "ready: on the host, 'make labs' (or 'vagrant ssh', then 'cd /vagrant && sudo -H make labs')"
}

# Ubuntu's kernels before 5.8 account swap only when booted with
# swapaccount=1; without it the v1 memsw.* files are missing.
swap_account() {
	local cfg=/etc/default/grub.d/99-memlab-swapaccount.cfg
	mkdir -p "${cfg%/*}"
	# shellcheck disable=SC2016 # grub-mkconfig expands it
	printf '%s\n' 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX swapaccount=1"' >"$cfg"
	update-grub
	say "swapaccount=1 is on the kernel command line from the next boot: now run 'vagrant reload' on the host"
}

case ${1:-} in
swapoff) swap_off ;;
provision) provision ;;
swapaccount) swap_account ;;
*)
	sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
	;;
esac
