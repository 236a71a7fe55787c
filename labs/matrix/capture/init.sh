#!/bin/sh
# memlab fixture-capture guest /init (embedded by labs/matrix/capture). It
# mounts the cgroup mode the kernel command line names (memlab.mode=v1|v2),
# makes the memory cgroup GROUP limited to LIMIT bytes, runs HOG (stress
# past the limit) inside it until the OOM killer kills stress's worker, and
# leaves in /out, one folder per parser package:
#   cgroup/  the group's interface files, its listing, mountinfo
#   kmsg/    /dev/kmsg from the OOM killer's first record on, stress's output
#   proc/    PID/cgroup of a process still in the group
# It hands /out back on the second serial port as the matrix guest does
# (labs/matrix/guest) and powers off, whatever went wrong.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /out/cgroup /out/kmsg /out/proc
echo "MEMLAB-BOOTED $(cut -d' ' -f1 /proc/uptime) $(uname -r)"

# GROUP (the group's path), LIMIT (bytes) and HOG (the command to run in
# it) come from labs/matrix/capture's constants.
GROUP='' LIMIT='' HOG=''
# shellcheck source=/dev/null
. /etc/memlab/capture.conf
mode=
read -r cmdline < /proc/cmdline
for w in $cmdline; do
	case $w in memlab.mode=*) mode=${w#memlab.mode=} ;; esac
done
uname -r > /out/release
echo "$mode" > /out/mode

status=
setup_v1() {
	root=/sys/fs/cgroup/memory
	mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup || { status="fail cannot mount a tmpfs at /sys/fs/cgroup"; return; }
	mkdir -p $root
	if ! err=$(mount -t cgroup -o memory cgroup $root 2>&1); then
		status="skip cgroup v1 memory controller cannot be mounted (${err#mount: })"
		return
	fi
	group=$root$GROUP
	if ! { mkdir -p "$group" && echo "$LIMIT" > "$group/memory.limit_in_bytes"; }; then
		status="fail cannot make $group with a limit"
	fi
	limit_file=memory.limit_in_bytes
}
setup_v2() {
	root=/sys/fs/cgroup
	if ! err=$(mount -t cgroup2 cgroup2 $root 2>&1); then
		status="skip cgroup2 cannot be mounted (${err#mount: })"
		return
	fi
	if ! grep -qw memory $root/cgroup.controllers; then
		status="skip memory is not in cgroup.controllers"
		return
	fi
	group=$root$GROUP
	# v2 hands memory down only through each ancestor's subtree_control.
	dir=$root
	for part in $(echo "${GROUP#/}" | tr / ' '); do
		if ! { echo +memory > "$dir/cgroup.subtree_control" && mkdir -p "$dir/$part"; }; then
			status="fail cannot make $dir/$part with memory enabled"
			return
		fi
		dir=$dir/$part
	done
	echo "$LIMIT" > "$group/memory.max" || status="fail cannot limit $group"
	limit_file=memory.max
}
if [ -z "$GROUP" ] || [ -z "$LIMIT" ] || [ -z "$HOG" ]; then
	mode=none status="fail /etc/memlab/capture.conf does not set GROUP, LIMIT and HOG"
fi
case $mode in
none) ;;
v1) setup_v1 ;;
v2) setup_v2 ;;
*) status="fail no cgroup mode on the kernel command line (memlab.mode=v1|v2)" ;;
esac
# The hog only runs under a limit that reads back.
if [ -z "$status" ] && [ "$(cat "$group/$limit_file")" != "$LIMIT" ]; then
	status="fail $group/$limit_file reads $(cat "$group/$limit_file"), not $LIMIT"
fi

if [ -z "$status" ]; then
	# The shell joins the group before it runs anything, runs stress there,
	# then stays (sleep) so the group keeps a member whose /proc/PID/cgroup
	# names it. Nothing runs unless the join took.
	# shellcheck disable=SC2016 # $$, $1, $2 and $3 are the inner shell's
	sh -c 'echo $$ > "$1/cgroup.procs" && grep -q ":$2\$" /proc/$$/cgroup || exit 99
		$3 > /out/kmsg/stress.out 2>&1
		echo $? > /tmp/stress.rc
		exec sleep 600' sh "$group" "$GROUP" "$HOG" &
	member=$!
	i=0
	while [ ! -e /tmp/stress.rc ] && [ $i -lt 900 ] && kill -0 $member 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -e /tmp/stress.rc ]; then
		status="fail stress did not end (or the group member died first)"
	elif ! grep -q "got signal 9" /out/kmsg/stress.out; then
		status="fail stress was not OOM-killed: exit $(cat /tmp/stress.rc): $(tail -n 2 /out/kmsg/stress.out | tr '\n' ' ')"
	else
		status=ok
	fi
	for f in memory.stat memory.oom_control memory.events memory.events.local \
		memory.limit_in_bytes memory.usage_in_bytes memory.max_usage_in_bytes memory.failcnt \
		memory.memsw.limit_in_bytes memory.memsw.usage_in_bytes memory.soft_limit_in_bytes \
		memory.max memory.high memory.low memory.min memory.current memory.peak \
		memory.swap.max memory.swap.current memory.swap.events \
		cgroup.procs tasks cgroup.threads cgroup.controllers; do
		if [ -e "$group/$f" ] && ! cat "$group/$f" > "/out/cgroup/$f" 2>/dev/null; then
			rm -f "/out/cgroup/$f"
		fi
	done
	ls "$group" > /out/cgroup/ls-memory
	{
		echo "# how labs/matrix/capture's guest made this group (killed: stress's workers that got signal 9)"
		echo "release $(uname -r)"
		echo "mode $mode"
		echo "group $GROUP"
		echo "limit $LIMIT"
		echo "hog $HOG"
		echo "killed $(grep -c "got signal 9" /out/kmsg/stress.out)"
	} > /out/cgroup/capture.txt
	mkdir -p "/out/proc/$member"
	cat "/proc/$member/cgroup" > "/out/proc/$member/cgroup"
	kill -9 $member 2>/dev/null
	wait $member 2>/dev/null
fi
grep cgroup /proc/self/mountinfo > /out/cgroup/mountinfo
[ "$mode" = v2 ] && [ -r /sys/fs/cgroup/cgroup.controllers ] && cat /sys/fs/cgroup/cgroup.controllers > /out/cgroup/unified.cgroup.controllers
# /dev/kmsg as memlab reads it (one record per read); cat blocks at the
# end of the log, so timeout ends it.
timeout 2 cat /dev/kmsg > /tmp/kmsg.all 2>/dev/null
awk '/invoked oom-killer/ { on = 1 } on' /tmp/kmsg.all > /out/kmsg/kmsg
echo "$status" > /out/status
echo "MEMLAB-CAPTURE $status"

# shellcheck source=SCRIPTDIR/../guest/handback.sh
. /usr/lib/memlab/handback.sh
