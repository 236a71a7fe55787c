#!/usr/bin/env bash
# Do the verdicts hold under load? Runs `make labs` in fresh clones of this
# checkout's HEAD: SOLO times alone (the first is the reference), then PAIRS times two at
# once, then (with --hog) once beside a CPU and memory hog that runs in a
# memory cgroup of its own with a limit. Every verdict of every loaded run
# must equal the reference's; the deciding figures (the specs' margins, G8's
# runs) are printed beside them. Exits 0 when they all equal, 1 when one
# differs, 2 on a usage or setup mistake.
#
#   sudo flock /work/heavy.lock test/load-proof.sh [--solo N] [--pairs N] [--hog] [--keep DIR]
#
# Needs root, jq and stress (Debian's `stress`, which the lab image uses too).
set -euo pipefail

solo=1 pairs=4 hog=no keep=
usage() { echo "usage: test/load-proof.sh [--solo N] [--pairs N] [--hog] [--keep DIR]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--solo) [ $# -ge 2 ] || usage; solo=$2; shift 2 ;;
	--pairs) [ $# -ge 2 ] || usage; pairs=$2; shift 2 ;;
	--hog) hog=yes; shift ;;
	--keep) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
	*) usage ;;
	esac
done
[[ $pairs =~ ^[0-9]+$ && $solo =~ ^[1-9][0-9]*$ ]] || usage
[ "$(id -u)" = 0 ] || { echo "load-proof: needs root (the labs write the cgroup filesystem)" >&2; exit 2; }
for tool in jq stress git make; do
	command -v "$tool" >/dev/null || { echo "load-proof: $tool is missing (apt-get install $tool)" >&2; exit 2; }
done

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/memlab-load.XXXXXX)
hogdir='' hogpid=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [ -n "$hogpid" ]; then
		kill -- "-$hogpid" 2>/dev/null || kill "$hogpid" 2>/dev/null || true
		wait "$hogpid" 2>/dev/null || true
	fi
	if [ -n "$hogdir" ] && [ -d "$hogdir" ]; then
		# The group is empty once the hog is reaped; retry while its workers exit.
		for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$hogdir" 2>/dev/null && break; sleep 0.5; done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in A B; do git clone -q "$repo" "$work/$c"; done
echo "load-proof: clones of $(git -C "$repo" log --oneline -1) in $work"

# verdicts FILE: one "ID/MODE VERDICT" line per claim and mode.
verdicts() { jq -r '.claims[] | "\(.id)/\(.cgroup_mode) \(.verdict)"' "$1" | sort; }
# figures FILE: what decided the claims whose rules compare a figure with a
# threshold, or count races.
figures() {
	jq -r '.claims[] | select(.verdict != "skipped") | . as $c
		| (.observed_figures // [])[]
		| select(.name | test("^margin of|stress in the group|runs whose stress escaped|runs that survived"))
		| "  \($c.id)/\($c.cgroup_mode) \(.name) = \(.value)"' "$1"
}

# labs NAME CLONE: one `make labs`; keeps its log and claims.json as NAME.
labs() {
	local name=$1 dir=$work/$2 status=0 start
	start=$(cut -d' ' -f1 /proc/loadavg)
	make -C "$dir" labs >"$work/$name.log" 2>&1 || status=$?
	echo "$name: make labs exited $status; load average $start at its start, $(cut -d' ' -f1 /proc/loadavg) at its end"
	if [ ! -s "$dir/reports/claims.json" ]; then
		echo "load-proof: $name wrote no reports/claims.json (make exited $status; log: $work/$name.log)" >&2
		cp "$work/$name.log" "${keep:-/tmp}/load-proof-$name.log" 2>/dev/null || true
		return 1
	fi
	cp "$dir/reports/claims.json" "$work/$name.json"
	rm -f "$dir/reports/claims.json"
	[ -z "$keep" ] || { mkdir -p "$keep"; cp "$work/$name.json" "$work/$name.log" "$keep/"; }
	return 0
}

differs=0
# compare NAME: every verdict of NAME against the reference's.
compare() {
	local name=$1 d
	if d=$(diff <(verdicts "$work/solo.json") <(verdicts "$work/$name.json")); then
		echo "$name: every verdict equals the solo run's ($(verdicts "$work/$name.json" | grep -vc ' skipped$') decided)"
	else
		echo "$name: verdicts differ from the solo run's:"
		printf '  %s\n' "${d//$'\n'/$'\n'  }"
		differs=1
	fi
	figures "$work/$name.json"
}

labs solo A
echo "solo: $(verdicts "$work/solo.json" | grep -v ' skipped$' | tr '\n' ' ')"
figures "$work/solo.json"
for i in $(seq 2 "$solo"); do
	if labs "solo$i" A; then compare "solo$i"; else differs=1; fi
done

for i in $(seq "$pairs"); do
	ok=0
	labs "pair$i-a" A & a=$!
	labs "pair$i-b" B & b=$!
	wait "$a" || ok=1
	wait "$b" || ok=1
	[ "$ok" = 0 ] || { differs=1; continue; }
	compare "pair$i-a"
	compare "pair$i-b"
done

if [ "$hog" = yes ]; then
	# The hog gets a memory cgroup of its own, limited, outside memlab's
	# parent: 2 CPU workers and one 2G memory worker under a 3G limit.
	if [ -d /sys/fs/cgroup/memory ] && [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		hogdir=/sys/fs/cgroup/memory/load-proof-hog-$$
		mkdir "$hogdir"
		echo 3G >"$hogdir/memory.limit_in_bytes"
	else
		hogdir=/sys/fs/cgroup/load-proof-hog-$$
		mkdir "$hogdir"
		echo 3G >"$hogdir/memory.max"
	fi
	# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
	setsid sh -c 'echo $$ > "$1/cgroup.procs" && exec stress -c 2 -m 1 --vm-bytes 2G --vm-keep' sh "$hogdir" >/dev/null 2>&1 &
	hogpid=$!
	sleep 3 # the memory worker has touched its 2G
	echo "hog: stress -c 2 -m 1 --vm-bytes 2G in $hogdir (limit 3G), load average $(cut -d' ' -f1 /proc/loadavg)"
	if labs hog A; then compare hog; else differs=1; fi
fi

exit "$differs"
