#!/usr/bin/env bash
# Build memlab's lab image (memlab/stress:16.04) without a registry.
#
#   labs/image/build.sh            build, unless the image is up to date
#   labs/image/build.sh --force    build even if it is up to date
#   labs/image/build.sh --remove   remove the image (only if memlab made it)
#
# Offline (default): a Dockerfile FROM scratch (fixtures/image/Dockerfile)
# over a root filesystem assembled in a temp dir from the host's stress,
# the shared libraries it loads, and a static busybox with its applet
# links. MEMLAB_IMAGE_ONLINE=1 builds fixtures/image/Dockerfile.ubuntu
# (FROM ubuntu:16.04) instead.
#
# The image carries org.memlab.image=stress and org.memlab.inputs=<sha256
# of the recipe and the root filesystem>; an image whose inputs label
# matches is not rebuilt. An image this script replaces is removed, and so
# are the leftovers of a failed build; nothing else is pruned.
#
# Environment: MEMLAB_IMAGE (default memlab/stress:16.04),
# MEMLAB_IMAGE_ONLINE (default 0).
# Exit status: 0 ok, 1 failure, 2 usage error.
set -euo pipefail
export LC_ALL=C

readonly IMAGE=${MEMLAB_IMAGE:-memlab/stress:16.04}
readonly ONLINE=${MEMLAB_IMAGE_ONLINE:-0}
readonly KIND_LABEL=org.memlab.image
readonly KIND=stress
readonly INPUTS_LABEL=org.memlab.inputs

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly ROOT
readonly FIXTURES=$ROOT/fixtures/image

say() { printf 'image: %s\n' "$*"; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

FORCE=0
REMOVE=0
for arg in "$@"; do
	case $arg in
	--force) FORCE=1 ;;
	--remove) REMOVE=1 ;;
	-h | --help) sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) printf 'image: error: unknown argument %q\n' "$arg" >&2; exit 2 ;;
	esac
done

command -v docker >/dev/null 2>&1 || die "no docker client; run vagrant/provision.sh"
docker version >/dev/null 2>&1 || die "no Docker engine answers; run vagrant/provision.sh"

TMP=""
cleanup() {
	if [[ -n $TMP ]]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

label_of() { # label_of IMAGE LABEL -> value, empty if no image/label
	docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

image_id() {
	docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# remove_leftovers HASH: dangling images of a failed build with these inputs.
remove_leftovers() {
	local ids
	ids=$(docker image ls -q --no-trunc --filter dangling=true \
		--filter "label=$KIND_LABEL=$KIND" --filter "label=$INPUTS_LABEL=$1")
	if [[ -n $ids ]]; then
		# shellcheck disable=SC2086 # one id per word
		docker image rm $ids >/dev/null 2>&1 || true
	fi
}

if [[ $REMOVE -eq 1 ]]; then
	id=$(image_id "$IMAGE")
	if [[ -z $id ]]; then
		say "$IMAGE: not present"
	elif [[ $(label_of "$IMAGE" "$KIND_LABEL") != "$KIND" ]]; then
		die "$IMAGE was not built by memlab (no $KIND_LABEL=$KIND label); not removing it"
	else
		docker image rm "$IMAGE" >/dev/null
		say "$IMAGE: removed"
	fi
	exit 0
fi

# ---------------------------------------------------------------- rootfs

# ELF shared objects a dynamic binary loads, interpreter included.
shared_libs() {
	local out
	out=$(ldd "$1" 2>&1) || die "ldd $1 failed: $out"
	if grep -q 'not found' <<<"$out"; then
		die "$1 needs libraries this host lacks: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
	fi
	# "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x..)" and
	# "/lib64/ld-linux-x86-64.so.2 (0x..)"; linux-vdso has no file.
	awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out"
}

is_static() {
	! ldd "$1" 2>&1 | grep -q '=>'
}

assemble_rootfs() {
	local r=$1 stress busybox lib applet
	stress=$(command -v stress) || die "stress not found on this host (apt-get install stress)"
	busybox=$(command -v busybox) || die "busybox not found on this host (apt-get install busybox-static)"
	is_static "$busybox" || die "$busybox is dynamically linked; install busybox-static"

	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,var/tmp}
	chmod 1777 "$r/tmp" "$r/var/tmp"
	chmod 0700 "$r/root"

	cp "$stress" "$r/usr/bin/stress"
	cp "$busybox" "$r/bin/busybox"
	chmod 0755 "$r/usr/bin/stress" "$r/bin/busybox"
	while IFS= read -r lib; do
		mkdir -p "$r$(dirname "$lib")"
		cp -L "$lib" "$r$lib"
	done < <(shared_libs "$stress")

	# Applet links where busybox says they belong (sh, ps, top, cat,
	# sleep, ...); old busybox without --list-full: all in /bin.
	local list
	if list=$("$busybox" --list-full 2>/dev/null) && [[ -n $list ]]; then
		:
	else
		list=$("$busybox" --list | sed 's|^|bin/|')
	fi
	while IFS= read -r applet; do
		case $applet in
		*/busybox | linuxrc | */linuxrc | "") continue ;;
		esac
		mkdir -p "$r/$(dirname "$applet")"
		[[ -e $r/$applet ]] || ln -s /bin/busybox "$r/$applet"
	done <<<"$list"

	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$r/etc/group"
	chmod 0644 "$r/etc/passwd" "$r/etc/group"
}

# Content hash: the recipe plus a normalised tar of the root filesystem.
inputs_hash() { # inputs_hash DOCKERFILE [ROOTFS]
	{
		sha256sum <"$1"
		if [[ -n ${2:-} ]]; then
			tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
				-C "$2" -cf - . | sha256sum
		fi
	} | sha256sum | cut -d' ' -f1
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/memlab-image.XXXXXX")
if [[ $ONLINE == 1 ]]; then
	dockerfile=$FIXTURES/Dockerfile.ubuntu
	[[ -r $dockerfile ]] || die "missing $dockerfile"
	context=$FIXTURES
	hash=online-$(inputs_hash "$dockerfile")
else
	dockerfile=$FIXTURES/Dockerfile
	[[ -r $dockerfile ]] || die "missing $dockerfile"
	assemble_rootfs "$TMP/rootfs"
	cp "$dockerfile" "$TMP/Dockerfile"
	context=$TMP
	hash=$(inputs_hash "$dockerfile" "$TMP/rootfs")
fi

old_id=$(image_id "$IMAGE")
if [[ $FORCE -eq 0 && -n $old_id && $(label_of "$IMAGE" "$INPUTS_LABEL") == "$hash" ]]; then
	say "$IMAGE is up to date (${old_id#sha256:}, inputs ${hash:0:12}); nothing to do"
	exit 0
fi

# ---------------------------------------------------------------- build

say "building $IMAGE ($([[ $ONLINE == 1 ]] && echo online || echo offline), inputs ${hash:0:12})"
# The classic builder: Docker's own engines (20.10 here) and CLIs without
# the buildx plugin all have it, and it keeps no BuildKit cache to prune.
if ! DOCKER_BUILDKIT=0 docker build --rm --force-rm \
	--build-arg "MEMLAB_INPUTS=$hash" -t "$IMAGE" \
	-f "$context/$(basename "$dockerfile")" "$context" >"$TMP/build.log" 2>&1; then
	sed 's/^/image:   /' "$TMP/build.log" | tail -n 20 >&2
	remove_leftovers "$hash"
	die "docker build failed (output above)"
fi
new_id=$(image_id "$IMAGE")

# The image we replaced is now untagged: remove it if it was ours.
if [[ -n $old_id && $old_id != "$new_id" ]]; then
	if [[ $(docker image inspect --format "{{ index .Config.Labels \"$KIND_LABEL\" }}" "$old_id" 2>/dev/null) == "$KIND" ]]; then
		docker image rm "$old_id" >/dev/null 2>&1 ||
			say "warning: could not remove the previous image ${old_id#sha256:} (still used by a container?)"
	fi
fi

# Smoke test: stress and busybox run in the image.
if ! out=$(docker run --rm --network none --label org.memlab.test=1 "$IMAGE" \
	/bin/sh -c 'stress --version && ps >/dev/null && echo ok' 2>&1) || [[ $out != *ok ]]; then
	docker image rm "$IMAGE" >/dev/null 2>&1 || true
	die "the new image does not run stress: $out"
fi
say "built $IMAGE (${new_id#sha256:}): $(head -n1 <<<"$out")"
