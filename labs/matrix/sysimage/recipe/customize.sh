#!/bin/sh
# mmdebstrap --customize-hook for the Docker guest (labs/matrix/sysimage):
# $1 is the image's root. Runs once, when the image is built; anything a
# cell chooses (cgroup driver, suites) comes later from the suites disk.
set -eu
root=$1
echo memlab-docker-guest > "$root/etc/hostname"
printf '/dev/root / ext4 rw,noatime 0 1\n' > "$root/etc/fstab"
# The guest's boot unit: mounts the suites disk and runs its script.
install -m 0755 "$MEMLAB_RECIPE/memlab-guest-start" "$root/usr/local/sbin/memlab-guest-start"
install -m 0644 "$MEMLAB_RECIPE/memlab-guest.service" "$root/etc/systemd/system/memlab-guest.service"
# Docker is started by the cell (systemctl start docker), once it has
# written daemon.json with the cell's cgroup driver; nothing else that a
# lab does not need starts at boot (each unit costs seconds under TCG).
for u in docker.service docker.socket containerd.service e2scrub_reap.service \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
	rm -f "$root"/etc/systemd/system/*.wants/"$u"
done
for u in getty@tty1.service serial-getty@ttyS0.service serial-getty@ttyS1.service \
	systemd-timesyncd.service systemd-networkd.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/memlab-guest.service "$root/etc/systemd/system/multi-user.target.wants/memlab-guest.service"
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
# No root password prompt, no machine-id first-boot service on a snapshot.
: > "$root/etc/machine-id"
rm -rf "$root/var/cache/apt/"* "$root/var/lib/apt/lists/"*
