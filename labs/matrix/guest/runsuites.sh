#!/bin/sh
# memlab guest suite loop (labs/matrix/guest; /usr/lib/memlab/runsuites.sh in
# the initramfs guest, /opt/memlab/runsuites.sh in the Docker guest), sourced
# first by the cell's script; once the cgroup mode is up, run_suites DIR runs every
# DIR/*.test with a Ginkgo JSON report into /out, SUITE_TIMEOUT and
# LABEL_FILTER as guest.conf gives them, and lists each in /out/suites.txt.

# load_conf FILE: SUITE_TIMEOUT and LABEL_FILTER, as labs/matrix/guest wrote
# them into FILE (guest.conf) for this run.
# guest.conf is always written; should it be missing, a shell that is PID 1
# must not die sourcing it, so the suites get 300 s each and no filter.
load_conf() {
	SUITE_TIMEOUT=300
	LABEL_FILTER=
	# shellcheck source=/dev/null  # written by labs/matrix/guest for each run
	[ -r "$1" ] && . "$1"
}

# cmdline_value KEY: the value of KEY=VALUE on the kernel command line.
cmdline_value() {
	read -r cmdline < /proc/cmdline
	for w in $cmdline; do
		case $w in "$1"=*) echo "${w#"$1"=}"; return ;; esac
	done
}

# describe_cgroups: what every cell's env.txt says of the cgroup mode it got.
describe_cgroups() {
	echo "--- /proc/cgroups"; cat /proc/cgroups
	echo "--- cgroup mounts"; grep cgroup /proc/self/mountinfo
	[ -r /sys/fs/cgroup/cgroup.controllers ] && echo "--- cgroup.controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
}

# run_or_skip SKIP DIR: the cell's status into /out; with no SKIP reason,
# run_suites DIR. Fails when the cell is skipped.
run_or_skip() {
	if [ -n "$1" ]; then
		echo "skip $1" > /out/status
		echo "MEMLAB-SKIP $1"
		return 1
	fi
	echo "ok" > /out/status
	run_suites "$2"
}

run_suites() {
	: > /out/suites.txt
	for bin in "$1"/*.test; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin" .test)
		mkdir -p "/tmp/suite-$name"
		set -- "--ginkgo.json-report=/out/$name.json" --ginkgo.no-color "--ginkgo.timeout=${SUITE_TIMEOUT}s"
		[ -n "$LABEL_FILTER" ] && set -- "$@" "--ginkgo.label-filter=$LABEL_FILTER"
		echo "MEMLAB-SUITE-START $name"
		start=$(cut -d' ' -f1 /proc/uptime)
		# The output goes to the console too: if the guest hangs, its tail
		# is the host's only evidence.
		# POSIX sh has no pipefail: the suite's status crosses the pipe in a file.
		{ (cd "/tmp/suite-$name" && exec timeout -s KILL $((SUITE_TIMEOUT + 20)) "$bin" "$@") < /dev/null
		  echo $? > "/tmp/suite-$name.rc"; } 2>&1 | tee "/out/$name.log"
		rc=$(cat "/tmp/suite-$name.rc" 2>/dev/null || echo 125)
		end=$(cut -d' ' -f1 /proc/uptime)
		echo "$name $rc $start $end" >> /out/suites.txt
		echo "MEMLAB-SUITE-END $name exit $rc"
	done
}
