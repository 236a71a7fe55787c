#!/bin/sh
# memlab matrix guest /init (embedded by labs/matrix/guest; /etc/memlab/guest.conf
# gives SUITE_TIMEOUT and LABEL_FILTER). It mounts proc, sys and dev, mounts
# the cgroup mode the kernel command line names (memlab.mode=v1|v2), runs
# every /suites/*.test with a Ginkgo JSON report into /out, hands /out back
# over the second serial port (ttyS1) as a base64 gzip tar between markers,
# and powers off. Whatever goes wrong, it still hands back and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /out /run /root
echo "MEMLAB-BOOTED $(cut -d' ' -f1 /proc/uptime) $(uname -r)"

# The modules the host appended for this kernel (its hardware RNG's driver,
# where the kernel has it as a module and waits for entropy), in file order.
modules=
for ko in /lib/modules/memlab/*.ko; do
	[ -e "$ko" ] || continue
	if err=$(insmod "$ko" 2>&1); then
		modules="$modules ${ko##*/}"
	else
		echo "MEMLAB-MODULE-FAILED ${ko##*/}: $err"
	fi
done
rng=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
echo "MEMLAB-RNG ${rng:-none} entropy_avail $(cat /proc/sys/kernel/random/entropy_avail)"

# shellcheck source=SCRIPTDIR/runsuites.sh
. /usr/lib/memlab/runsuites.sh
load_conf /etc/memlab/guest.conf
mode=$(cmdline_value memlab.mode)

skip=
lastlog() { dmesg 2>/dev/null | grep -i -e cgroup -e memcg | tail -n 2 | tr '\n' ' '; }
mount_v1() {
	if ! mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup; then
		skip="cannot mount a tmpfs at /sys/fs/cgroup"
		return
	fi
	mkdir -p /sys/fs/cgroup/memory
	if ! err=$(mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory 2>&1); then
		skip="cgroup v1 memory controller cannot be mounted (mount -t cgroup -o memory: ${err#mount: }; kernel: $(lastlog))"
		rmdir /sys/fs/cgroup/memory
		return
	fi
	if [ ! -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		skip="cgroup v1 memory hierarchy mounted but has no memory.limit_in_bytes"
	fi
}
mount_v2() {
	if ! err=$(mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>&1); then
		skip="cgroup2 cannot be mounted (${err#mount: })"
		return
	fi
	if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
		skip="cgroup v2 is mounted but memory is not in cgroup.controllers ($(cat /sys/fs/cgroup/cgroup.controllers))"
	fi
}
case $mode in
v1) mount_v1 ;;
v2) mount_v2 ;;
*) skip="no cgroup mode on the kernel command line (memlab.mode=v1|v2)" ;;
esac

{
	echo "kernel: $(uname -a)"
	echo "cmdline: $(cat /proc/cmdline)"
	echo "mode: $mode"
	describe_cgroups
	echo "--- entropy: hw_random ${rng:-none}, modules loaded:${modules:- none}, entropy_avail $(cat /proc/sys/kernel/random/entropy_avail)"
	dmesg 2>/dev/null | grep -i -e 'random:' -e virtio_rng -e hwrng
	echo "--- meminfo"; head -n 3 /proc/meminfo
} > /out/env.txt 2>&1

run_or_skip "$skip" /suites || true

cut -d' ' -f1 /proc/uptime > /out/uptime
# shellcheck source=SCRIPTDIR/handback.sh
. /usr/lib/memlab/handback.sh
