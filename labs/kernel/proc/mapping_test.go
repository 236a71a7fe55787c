package proc

import (
	"os"
	"testing"
)

func TestLargestMapping(t *testing.T) {
	smaps := []byte(`55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 1 /usr/bin/stress
Size:                  8 kB
Rss:                   8 kB
VmFlags: rd mr mw me sd
7f1a2c000000-7f1a32301000 rw-p 00000000 00:00 0 
Size:             101380 kB
KernelPageSize:        4 kB
Rss:              101376 kB
VmFlags: rd wr mr mw me ac sd
7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
Rss:                  12 kB
`)
	m, err := largestMapping(smaps)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != 101380<<10 || m.Resident != 99<<20 {
		t.Errorf("got %+v", m)
	}
	for _, bad := range []string{"", "zz-1 rw-p\nRss: 1 kB\n", "1000-2000 rw-p\nRss: many kB\n"} {
		if _, err := largestMapping([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// This process's own smaps reads, and its largest mapping is no larger
// than its address space.
func TestLargestMappingOfThisProcess(t *testing.T) {
	m, err := LargestMapping(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Size <= 0 || m.Resident < 0 || m.Resident > m.Size {
		t.Errorf("got %+v", m)
	}
}
