package kmsg

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Report is what the OOM killer's report said of a group just before a
// kill: the kernel's own account of what was charged when it gave up,
// exact where the group's files may lag or hold per-CPU charge stock.
//
//	memory: usage 102400kB, limit 102400kB, failcnt 24
//	kmem: usage 392kB, limit 9007199254740988kB, failcnt 0      (v1 only)
//	[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
//	[     86]     0    86    26701    25666   253952        0             0 stress
//
// The task table's columns differ by kernel (4.4 has nr_ptes and nr_pmds
// in pages, 6.x adds rss_anon, rss_file and rss_shmem), so they are read by
// the header's names. A figure the report did not give is -1.
type Report struct {
	Usage int64  // bytes charged to the group whose limit was hit
	Limit int64  // its limit, bytes
	Kmem  int64  // v1's kernel memory, bytes; -1 on v2, which reports none
	Tasks []Task // every task of the group, as the kernel listed them
}

// Task is one row of the report's task table.
type Task struct {
	PID        int
	Name       string
	RSS        int64 // resident bytes
	PageTables int64 // bytes of page tables; -1 when the row gives none
}

func (t Task) String() string {
	s := fmt.Sprintf("%s pid %d (rss %d KiB", t.Name, t.PID, t.RSS>>10)
	if t.PageTables >= 0 {
		s += fmt.Sprintf(", page tables %d KiB", t.PageTables>>10)
	}
	return s + ")"
}

// String is the report in one line, for a figure.
func (r Report) String() string {
	s := "no usage line"
	if r.Usage >= 0 && r.Limit >= 0 {
		s = fmt.Sprintf("usage %d KiB of limit %d KiB", r.Usage>>10, r.Limit>>10)
	}
	if r.Kmem >= 0 {
		s += fmt.Sprintf(" (kernel memory %d KiB)", r.Kmem>>10)
	}
	tasks := make([]string, len(r.Tasks))
	for i, t := range r.Tasks {
		tasks[i] = t.String()
	}
	if len(tasks) == 0 {
		return s + "; no task table"
	}
	return s + "; tasks: " + strings.Join(tasks, ", ")
}

var (
	memoryLine = regexp.MustCompile(`^memory: usage ([0-9]+)kB, limit ([0-9]+)kB`)
	kmemLine   = regexp.MustCompile(`^kmem: usage ([0-9]+)kB`)
)

func newReport() Report { return Report{Usage: -1, Limit: -1, Kmem: -1} }

// read takes one line of a report into r; columns is the task table's
// header once it has been seen.
func (r *Report) read(l string, columns *[]string) {
	if m := memoryLine.FindStringSubmatch(l); m != nil {
		r.Usage, r.Limit = kib(m[1]), kib(m[2])
		return
	}
	if m := kmemLine.FindStringSubmatch(l); m != nil {
		r.Kmem = kib(m[1])
		return
	}
	if !strings.HasPrefix(l, "[") {
		return
	}
	closing := strings.IndexByte(l, ']')
	if closing < 0 {
		return
	}
	first := strings.TrimSpace(l[1:closing])
	rest := strings.Fields(l[closing+1:])
	if first == "pid" {
		*columns = append([]string{"pid"}, rest...)
		return
	}
	if *columns == nil || len(rest) < len(*columns)-1 {
		return
	}
	if t, ok := taskRow(*columns, first, rest); ok {
		r.Tasks = append(r.Tasks, t)
	}
}

// taskRow reads a row by its header: values in pages but pgtables_bytes;
// the name is last and may hold spaces.
func taskRow(columns []string, pid string, rest []string) (Task, bool) {
	t := Task{Name: strings.Join(rest[len(columns)-2:], " "), PageTables: -1}
	var err error
	if t.PID, err = strconv.Atoi(pid); err != nil {
		return t, false
	}
	page := int64(os.Getpagesize())
	ptes := int64(-1)
	for i, c := range columns[1 : len(columns)-1] {
		v, err := strconv.ParseInt(rest[i], 10, 64)
		if err != nil {
			return t, false
		}
		switch c {
		case "rss":
			t.RSS = v * page
		case "pgtables_bytes":
			t.PageTables = v
		case "nr_ptes", "nr_pmds": // 4.4 to 4.14, in pages
			ptes = max(ptes, 0) + v
		}
	}
	if t.PageTables < 0 && ptes >= 0 {
		t.PageTables = ptes * page
	}
	return t, true
}

func kib(digits string) int64 {
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > 1<<53 {
		return -1
	}
	return v << 10
}
