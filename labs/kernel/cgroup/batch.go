package cgroup

import "os"

// ChargeBatchPages is MEMCG_CHARGE_BATCH on a kernel release such as
// "6.1.0-35-amd64" or "4.4.178": how many pages a memory cgroup's page
// counter is charged at a time on one CPU, the unused rest waiting in that
// CPU's stock. It was 32 until 6.1 raised it to 64 (1813e51eece0). A group
// whose tasks have charged anything on a CPU can therefore read up to one
// batch per CPU more than the pages its tasks use.
func ChargeBatchPages(release string) (int, error) {
	newer, err := AtLeast(release, 6, 1)
	switch {
	case err != nil:
		return 0, err
	case newer:
		return 64, nil
	}
	return 32, nil
}

// ChargeBatchBytes is ChargeBatchPages in bytes of this machine's pages.
func ChargeBatchBytes(release string) (int64, error) {
	pages, err := ChargeBatchPages(release)
	return int64(pages) * int64(os.Getpagesize()), err
}
