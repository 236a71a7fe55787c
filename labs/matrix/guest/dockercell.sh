#!/bin/sh
# memlab Docker cell (labs/matrix/guest): /opt/memlab/cell.sh on the suites
# disk, run by the Docker guest's memlab-guest.service once systemd is up.
# systemd mounted the cgroup mode the kernel command line chose; this script
# checks it is the one memlab.mode= asked for, writes daemon.json with the
# cell's cgroup driver, has systemd start Docker, runs the project's
# provisioning check and every suite, and hands /out back (handback.sh).
# Whatever goes wrong, it still hands back and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
M=/opt/memlab
mkdir -p /out /tmp /root

# shellcheck source=SCRIPTDIR/runsuites.sh
. "$M/runsuites.sh"
load_conf "$M/guest.conf"
mode=$(cmdline_value memlab.mode)
DRIVER=$(cmdline_value memlab.driver)

# What systemd mounted: cgroup2 at /sys/fs/cgroup (unified), or a tmpfs of
# v1 hierarchies (legacy) with memory at /sys/fs/cgroup/memory.
have=v1
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && have=v2
skip=
if [ "$have" != "$mode" ]; then
	skip="systemd mounted cgroup $have, not the $mode the cell asked for ($(grep -o 'systemd.unified[^ ]*' /proc/cmdline))"
elif [ "$mode" = v2 ] && ! grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
	skip="cgroup v2 is mounted but memory is not in cgroup.controllers ($(cat /sys/fs/cgroup/cgroup.controllers))"
elif [ "$mode" = v1 ] && [ ! -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
	skip="systemd's legacy hierarchy has no v1 memory controller at /sys/fs/cgroup/memory"
fi

# Docker, started by systemd with the cell's driver; no bridge and no
# iptables: the lab's containers run with --network none.
if [ -z "$skip" ]; then
	mkdir -p /etc/docker
	printf '{\n  "exec-opts": ["native.cgroupdriver=%s"],\n  "iptables": false,\n  "ip-masq": false,\n  "bridge": "none"\n}\n' "$DRIVER" > /etc/docker/daemon.json
	echo "MEMLAB-DOCKER-START $(cut -d' ' -f1 /proc/uptime) driver $DRIVER"
	if ! timeout 90 systemctl start docker.service; then
		skip="systemctl start docker failed: $(journalctl -u docker -u containerd -o cat -n 3 --no-pager 2>/dev/null | tr '\n' ' ')"
	fi
	echo "MEMLAB-DOCKER-UP $(cut -d' ' -f1 /proc/uptime)"
	docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})' > /out/engine.txt 2>&1
	got=$(docker info --format '{{.CgroupDriver}}' 2>/dev/null)
	docker info --format 'cgroup driver {{.CgroupDriver}}, cgroup v{{.CgroupVersion}}, storage {{.Driver}}' >> /out/engine.txt 2>&1
	if [ -z "$skip" ] && [ "$got" != "$DRIVER" ]; then
		skip="dockerd runs with the ${got:-unknown} cgroup driver, not the $DRIVER this cell asked for"
	fi
	# The lab image, made on the host from the same recipe and programs:
	# loaded, not built under emulation (the Docker suite still rebuilds it
	# if the guest's stress or busybox differ from the host's).
	if [ -z "$skip" ] && [ -r "$M/lab-image.tar" ]; then
		timeout 60 docker load -i "$M/lab-image.tar" > /out/lab-image.txt 2>&1
		echo "lab image: $(tail -n1 /out/lab-image.txt) from the suites disk" >> /out/engine.txt
	fi
	# The project's provisioning check, as on a student's fresh machine. Its
	# build tools (go, qemu, shellcheck) are not in the guest: only the
	# engine's line is the cell's business; the whole output is kept.
	if [ -r "$M/provision.sh" ]; then
		bash "$M/provision.sh" --check > /out/provision.txt 2>&1
		echo "exit $?" >> /out/provision.txt
		grep '^provision: docker:\|^provision: missing: docker' /out/provision.txt | sed 's/^provision:/provision --check:/' >> /out/engine.txt
	fi
fi

{
	echo "kernel: $(uname -a)"
	echo "cmdline: $(cat /proc/cmdline)"
	echo "mode: $mode (systemd mounted $have), docker cgroup driver: $DRIVER"
	echo "systemd: $(systemctl --version | head -n1)"
	describe_cgroups
	echo "--- meminfo"; head -n 3 /proc/meminfo
	echo "--- failed units"; systemctl --failed --no-legend --no-pager
} > /out/env.txt 2>&1

if run_or_skip "$skip" "$M/suites"; then
	journalctl -u docker -u containerd -o short-monotonic --no-pager > /out/docker-journal.txt 2>&1
	# A fixture for labs/docker's unit tests: this layout's real tree, with
	# the article's container (-m 128m, stress holding 100m) running.
	if [ -r "$M/capture.sh" ] && docker image inspect memlab/stress:16.04 > /dev/null 2>&1; then
		name=$mode-$DRIVER
		{
			timeout 60 docker run -d --name memlab-capture -m 128m --network none memlab/stress:16.04 \
				stress --vm 1 --vm-bytes 100m --vm-keep
			sleep 3
			CAPTURE_OUT=/tmp/capture timeout 30 sh "$M/capture.sh" memlab-capture "$name" &&
				tar -C /tmp/capture -cf /out/capture.tar "$name"
			timeout 30 docker rm -f memlab-capture
		} > /out/capture.log 2>&1
	fi
fi

cut -d' ' -f1 /proc/uptime > /out/uptime
# shellcheck source=SCRIPTDIR/handback.sh
. "$M/handback.sh"
