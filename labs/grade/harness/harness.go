// Package harness runs a program that claims to honour the runner contract
// (docs/exercises/02-your-own-runner.md),
//
//	RUNNER --memory SIZE -- CMD [ARGS...]
//
// with a deadline on every run, and finds and removes what the runner left
// behind. The process that makes a Harness becomes a child subreaper, so
// every process the runner leaves comes back to it as a child; the memory
// cgroups that appear during a spec and hold nothing but the runner's
// processes are the runner's.
//
// The runner suite (specs/runner) drives it. The methods that take part in
// a spec (Start, ExitStatus, FindCommand, MemoryCgroupOf) assert through
// Config.G, so a runner that misbehaves fails the spec with a message that
// says how.
package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/cgroup"
)

// DefaultTimeout bounds one run of the runner. The slowest spec's workload
// takes 5 s when the limit is missing (stress --timeout 5s); a correct
// runner finishes every run in well under 2 s.
const DefaultTimeout = 30 * time.Second

// exitGrace is how long a run may take after its runner exited to close
// the output it handed on, and how long processes it leaves get to end by
// themselves before they count as left behind.
const exitGrace = 2 * time.Second

// Config says which runner to drive and where to report.
type Config struct {
	Runner  []string          // the runner's argv, as ResolveRunner gives it
	Timeout time.Duration     // bounds each run (default DefaultTimeout)
	Dir     string            // every run's working directory
	Layout  cgroup.Layout     // the memory hierarchy the runner's groups appear in
	Log     io.Writer         // the transcript: command lines, output, what was killed or removed
	Outcome func(line string) // files one line of what a run did, for the grade's feedback
	Command func(line string) // files each run's arguments to the runner as it starts (the grade's test_code)
	// Private: this process has mount and network namespaces of its own
	// (memlab grade runs the suite so), so every mount and interface that
	// appears in them is the runner's. Without it Strays judges neither:
	// in the host's namespaces they may be other work's.
	Private bool
	G       gomega.Gomega // asserts (default gomega.Default: the running Ginkgo spec)
	// Fail fails the spec with exactly this message, skip frames above its
	// caller (the suite passes Ginkgo's Fail; default: through G).
	Fail func(message string, skip int)
}

// Harness drives one runner. Its runs are watched from this process, so
// use one Harness per process.
type Harness struct {
	Config
	self      int
	limitFile string
	active    sync.Map // runs not yet waited for, by the runner's PID: their exec.Cmd reaps them
}

// New makes the harness and makes this process a child subreaper: orphans
// of the runner become its children, not init's, so nothing the runner
// starts can get away.
func New(c Config) (*Harness, error) {
	if len(c.Runner) == 0 {
		return nil, errors.New("harness: no runner")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("harness: run timeout %s: want a positive duration", c.Timeout)
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Outcome == nil {
		c.Outcome = func(string) {}
	}
	if c.Command == nil {
		c.Command = func(string) {}
	}
	if c.G == nil {
		c.G = gomega.Default
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("harness: becoming a child subreaper: %w", err)
	}
	return &Harness{Config: c, self: os.Getpid(), limitFile: cgroup.FilesFor(c.Layout.Version).Limit}, nil
}

// fail fails the spec with msg, through Config.Fail or else G, at the
// line that called the harness method that calls fail.
func (h *Harness) fail(msg string) {
	if h.Fail != nil {
		h.Fail(msg, 2)
		return
	}
	h.G.ExpectWithOffset(2, msg).To(gomega.BeEmpty())
}

// ResolveRunner splits a runner's command line into words. A first word
// with a "/" is a path, taken from base when relative (the repository
// root, so that RUNNER=./student-runner means the same wherever the suite
// runs); any other is looked up in PATH. An empty line is the reference,
// base's bin/memlab run.
func ResolveRunner(line, base string) ([]string, error) {
	words := strings.Fields(line)
	if len(words) == 0 {
		words = []string{"bin/memlab", "run"}
	}
	if strings.Contains(words[0], "/") && !filepath.IsAbs(words[0]) {
		words[0] = filepath.Join(base, words[0])
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		hint := ""
		if len(strings.Fields(line)) == 0 {
			hint = " (build the reference first: go build -o bin/memlab ./labs/cmd/memlab)"
		}
		return nil, fmt.Errorf("runner %q: %w%s", words[0], err, hint)
	}
	words[0] = path
	return words, nil
}
