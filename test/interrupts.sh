#!/usr/bin/env bash
# The interrupt acceptance test (issue 11): `make labs` is cut short at
# random points, SIGINT (Ctrl-C) INTERRUPTS times and SIGKILL KILLS times,
# and after each cut the script checks that
#   - the previous reports (claims.json, claims.md, index.html) are intact,
#   - every process of the run ended by itself within SETTLE seconds,
#   - nothing is left after `memlab sweep`: no lab group, lab container,
#     process of the run, memlab temp dir or memlab mount;
# then a last uninterrupted run must give the solo run's verdicts.
#
#   test/interrupts.sh [--interrupts N] [--kills N] [--seed N] [--reuse-solo]
#
# The full form (10 interrupts, 3 kills) is run by hand; `make test` runs a
# short one (make interrupts-short). --reuse-solo takes the verdicts of the
# reports already in reports/ (a `make labs` that just ran; its length is
# read from its ginkgo.json) as the solo
# run's instead of running one first. Needs root, like make labs. Each
# `make labs` runs in its own session, so "a process of the run" is any
# process in that session; SIGINT goes to its process group, as a
# terminal's Ctrl-C does. The kills rotate over the whole group, the
# ginkgo CLI alone, and the running suite binary alone.
set -euo pipefail

INTERRUPTS=10
KILLS=3
SEED=$(date +%s)
REUSE_SOLO=0
SETTLE=${SETTLE:-30}
while [[ $# -gt 0 ]]; do
	case $1 in
	--interrupts) INTERRUPTS=$2; shift 2 ;;
	--kills) KILLS=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--reuse-solo) REUSE_SOLO=1; shift ;;
	*) echo "usage: $0 [--interrupts N] [--kills N] [--seed N] [--reuse-solo]" >&2; exit 64 ;;
	esac
done
RANDOM=$SEED

cd "$(dirname "$0")/.."
REPORTS=reports
MEMLAB=bin/memlab
LOG=$(mktemp -d "${TMPDIR:-/tmp}/memlab-interrupts-XXXXXX")
trap 'rm -rf "$LOG"' EXIT
failures=0

say() { printf 'interrupts: %s\n' "$*"; }
bad() { printf 'interrupts: FAIL: %s\n' "$*"; failures=$((failures + 1)); }

[[ $(id -u) == 0 ]] || { echo "interrupts: needs root, like make labs" >&2; exit 67; }

# verdicts FILE: "ID/MODE verdict" per claim of a claims.json, sorted.
verdicts() {
	awk -F'"' '/"id":/ { id = $4 } /"cgroup_mode":/ { mode = $4 } /"verdict":/ { print id "/" mode, $4 }' "$1" | sort
}

# digest: the reports a cut-short run must leave as they were.
digest() {
	local f
	for f in claims.json claims.md index.html; do
		if [[ -e $REPORTS/$f ]]; then sha256sum "$REPORTS/$f"; else echo "absent $f"; fi
	done
}

# A command started with & in a script starts with SIGINT ignored, and
# make would never see the Ctrl-C; give it back its default, as a
# terminal's shell does (env --default-signal: coreutils 8.31).
if env --default-signal=INT --default-signal=QUIT true 2>/dev/null; then
	DEFAULT_SIGNALS=(env --default-signal=INT --default-signal=QUIT)
else
	# shellcheck disable=SC2016 # perl's own variables
	DEFAULT_SIGNALS=(perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "exec: $!"')
fi

# run_labs LOG: make labs in a session of its own, in the background; sets PID.
run_labs() {
	setsid "${DEFAULT_SIGNALS[@]}" make labs >"$1" 2>&1 </dev/null &
	PID=$!
}

# session_procs SID: the processes still in the run's session.
session_procs() {
	ps -eo pid=,sid=,comm= | awk -v s="$1" '$2 == s { print $1, $3 }'
}

# stage_of SID: what the run was doing, from its processes (Ginkgo's
# succinct output says nothing until a suite ends): a suite binary running,
# the compiler, the report, or nothing left (the run had ended).
stage_of() {
	local procs
	procs=$(session_procs "$1" | awk '{ print $2 }')
	if grep -q '\.test$' <<<"$procs"; then
		echo "while $(grep '\.test$' <<<"$procs" | head -n 1) ran"
	elif grep -qE '^(compile|link|go|asm|cgo|vet)$' <<<"$procs"; then
		echo "while compiling"
	elif grep -qx memlab <<<"$procs"; then
		echo "while memlab ran (the report or provisioning)"
	elif [[ -n $procs ]]; then
		echo "while $(tr '\n' ' ' <<<"$procs" | cut -c1-60)ran"
	else
		echo "after the run had ended"
	fi
}

# ours RUNID SID: the run RUNID (PID.STARTTIME) is gone, or is a process
# of session SID. A live run of another session (a developer's memlab
# run, another checkout's tests) is not this run's leftover.
ours() {
	local pid=${1%.*} start=${1#*.} stat
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	read -r -a f <<<"$stat"
	# After "(comm) ": f[0] is field 3 (state), so field N is f[N-3].
	[[ ${f[19]} != "$start" || ${f[3]} == "$2" ]]
}

# leftovers SID: what the run in session SID left that the sweep should
# have removed.
leftovers() {
	local root dir id cid run
	for root in /sys/fs/cgroup/memory /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[[ -d $root/memlab ]] || continue
		for dir in "$root"/memlab/*/; do
			[[ -d $dir ]] || continue
			id=$(basename "$dir" | sed -nE 's/.*-([0-9]+\.[0-9]+)-[0-9a-f]{6}$/\1/p')
			if [[ -z $id ]] || ours "$id" "$1"; then echo "group $dir"; fi
		done
	done
	if docker info >/dev/null 2>&1; then
		while read -r cid run; do
			if [[ -z $run ]] || ours "$run" "$1"; then echo "container $cid"; fi
		done < <(docker ps -a --filter label=org.memlab=1 --format '{{.ID}} {{.Label "org.memlab.run"}}')
	fi
	find "${TMPDIR:-/tmp}" -maxdepth 1 \( -name 'memlab-build-*' -o -name 'memlab-matrix-*' \) -printf 'temp dir %p\n'
	findmnt -rn -o TARGET | grep -i memlab | sed 's/^/mount /' || true
}

timed_run() { # timed_run LOG: a whole make labs; prints its seconds; its session in LOG.sid
	local t0 t1
	t0=$(date +%s.%N)
	run_labs "$1"
	echo "$PID" >"$1.sid"
	wait "$PID" || true
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", b - a }'
}

make -s bin/memlab >/dev/null
"$MEMLAB" sweep

# labs_seconds: how long the make labs that wrote ginkgo.json took: its
# suites, from the first start to the last end, and 3 s to compile (make
# test's build cache is warm from the labs it has just run).
labs_seconds() {
	local first last
	first=$(grep -oE '"StartTime": *"[^"]+"' "$REPORTS/ginkgo.json" 2>/dev/null | head -n 1 | sed -E 's/.*"([^"]+)"$/\1/')
	last=$(grep -oE '"EndTime": *"[^"]+"' "$REPORTS/ginkgo.json" 2>/dev/null | tail -n 1 | sed -E 's/.*"([^"]+)"$/\1/')
	[[ -n $first && -n $last ]] || return 1
	echo $(($(date -d "$last" +%s) - $(date -d "$first" +%s) + 3))
}

if [[ $REUSE_SOLO == 1 && -s $REPORTS/claims.json ]] && duration=$(labs_seconds); then
	say "solo verdicts from the existing $REPORTS/claims.json (that run took about ${duration}s)"
else
	say "solo run (seed $SEED)"
	duration=$(timed_run "$LOG/solo.log")
	[[ -s $REPORTS/claims.json ]] || { tail -n 20 "$LOG/solo.log"; echo "interrupts: the solo run wrote no claims.json" >&2; exit 1; }
	say "solo run took ${duration}s"
fi
verdicts "$REPORTS/claims.json" >"$LOG/solo.verdicts"

# The cuts, in a random order: i for SIGINT, k for SIGKILL.
cuts=()
for ((i = 0; i < INTERRUPTS; i++)); do cuts+=(i); done
for ((i = 0; i < KILLS; i++)); do cuts+=(k); done
for ((i = ${#cuts[@]} - 1; i > 0; i--)); do
	j=$((RANDOM % (i + 1)))
	t=${cuts[i]}; cuts[i]=${cuts[j]}; cuts[j]=$t
done

n=0 kills=0
for cut in "${cuts[@]}"; do
	n=$((n + 1))
	before=$(digest)
	# A point anywhere in the run: compiling, a suite's setup, a spec, the
	# report. Runs vary by a few seconds (a warm build cache, the Docker
	# suite), so cuts are drawn from the first 80% of the solo run's time:
	# past that, one in three of make test's cuts landed after its run had
	# ended and cut nothing.
	window_ms=$((duration * 800 - 1000 > 1000 ? duration * 800 - 1000 : 1000))
	at_ms=$(( (RANDOM * 32768 + RANDOM) % window_ms + 1000 ))
	touch "$LOG/cut$n.log.start"
	run_labs "$LOG/cut$n.log"
	sid=$PID
	sleep "$(awk -v m="$at_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
	stage=$(stage_of "$sid")
	what=
	case $cut in
	i)
		what="SIGINT to the run's process group"
		kill -INT -- "-$sid" 2>/dev/null || true
		;;
	k)
		kills=$((kills + 1))
		case $((kills % 3)) in
		1) what="SIGKILL to the run's process group"; kill -KILL -- "-$sid" 2>/dev/null || true ;;
		2)
			p=$(session_procs "$sid" | awk '$2 == "ginkgo" { print $1; exit }')
			what="SIGKILL to the ginkgo CLI${p:+ (pid $p)}"
			if [[ -n $p ]]; then kill -KILL "$p" 2>/dev/null || true; fi
			;;
		0)
			p=$(session_procs "$sid" | awk '$2 ~ /\.test$/ { print $1; exit }')
			what="SIGKILL to the suite binary${p:+ (pid $p)}"
			if [[ -n $p ]]; then kill -KILL "$p" 2>/dev/null || true; fi
			;;
		esac
		;;
	esac
	t0=$(date +%s.%N)
	wait "$PID" && status=0 || status=$?
	# Every process of the run must end by itself (no sweep yet).
	for ((w = 0; w < SETTLE * 10; w++)); do
		[[ -z $(session_procs "$sid") ]] && break
		sleep 0.1
	done
	ended=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	say "cut $n at ${at_ms}ms, $stage: $what; make exited $status; the run's processes ended ${ended}s after the cut"
	# What the cut run's partial report says of the claims it never judged.
	if [[ $REPORTS/claims.partial.json -nt $LOG/cut$n.log.start ]]; then
		say "cut $n: claims.partial.json: $(verdicts "$REPORTS/claims.partial.json" | awk '{ sub(/^[^ ]+ /, ""); n[$0]++ } END { for (v in n) printf "%s %d, ", v, n[v] }')"
	fi
	if left=$(session_procs "$sid") && [[ -n $left ]]; then
		bad "cut $n: still running ${SETTLE}s after the cut: $(echo "$left" | tr '\n' ' ')"
		while read -r p _; do kill -KILL "$p" 2>/dev/null || true; done <<<"$left"
	fi
	if [[ $(digest) != "$before" ]]; then
		# A run that finished before the cut landed may replace them: that is no loss.
		if grep -q '^reports: ' "$LOG/cut$n.log" && [[ $status == 0 ]]; then
			say "cut $n: the run finished before the cut; its reports replaced the previous ones"
		else
			bad "cut $n: the previous reports changed"
			diff <(echo "$before") <(digest) || true
		fi
	fi
	"$MEMLAB" sweep 2>&1 | sed "s/^/interrupts: cut $n: sweep: /"
	if left=$(leftovers "$sid") && [[ -n $left ]]; then
		bad "cut $n: left after memlab sweep: $(echo "$left" | tr '\n' ' ')"
	fi
done

say "last run, uninterrupted"
timed_run "$LOG/last.log" >/dev/null
verdicts "$REPORTS/claims.json" >"$LOG/last.verdicts"
if ! diff "$LOG/solo.verdicts" "$LOG/last.verdicts" >"$LOG/diff"; then
	bad "the last run's verdicts differ from the solo run's: $(tr '\n' ' ' <"$LOG/diff")"
else
	say "the last run's $(wc -l <"$LOG/last.verdicts") verdicts equal the solo run's"
fi
if left=$(leftovers "$(<"$LOG/last.log.sid")") && [[ -n $left ]]; then
	bad "left after the last run: $(echo "$left" | tr '\n' ' ')"
fi
say "$n cuts ($INTERRUPTS SIGINT, $KILLS SIGKILL), seed $SEED: $failures failure(s)"
[[ $failures == 0 ]]
