#!/bin/sh
# memlab guest hand-back (labs/matrix/guest; /usr/lib/memlab/handback.sh in
# every memlab guest, sourced last by its /init): /out goes back to the host
# over the second serial port (ttyS1) as a base64 gzip tar between the
# markers labs/matrix/guest/handback.go reads, then the guest powers off.
# Whatever went wrong before, the guest still hands back and powers off.
if tar -C /out -cf - . | gzip -1 > /tmp/out.tgz; then
	size=$(wc -c < /tmp/out.tgz)
	sum=$(md5sum /tmp/out.tgz | cut -d' ' -f1)
	stty -F /dev/ttyS1 raw -echo 2>/dev/null
	{
		echo "MEMLAB-HANDBACK-BEGIN v1 $size"
		base64 /tmp/out.tgz
		echo "MEMLAB-HANDBACK-END $sum"
	} > /dev/ttyS1
	echo "MEMLAB-HANDED-BACK $size bytes"
else
	echo "MEMLAB-HANDBACK-FAILED"
fi
sync
poweroff -f
echo o > /proc/sysrq-trigger
