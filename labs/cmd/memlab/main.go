// Command memlab runs the cgroup memory labs: `memlab run` is the article's
// program done right, `memlab report` turns a Ginkgo run into the claims
// report, `memlab grade` scores a runner from the runner suite's report,
// `memlab sweep` removes what a killed run left behind.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/memlab/memlab/labs/runner"
)

const usage = `usage:
  memlab run [--memory 100m] [--ns uts,mnt,pid|none] [--attach before-exec|after-start]
             [--name NAME] [--result FILE] -- CMD [ARGS...]
  memlab report [--from reports/ginkgo.json] [--out reports] [--suites PKGS]
  memlab grade [--rubric fixtures/rubric.json] [--from reports/runner.json] [--out reports]
  memlab matrix [--kernels LIST] [--modes v1,v2] [--baseline FILE] (see memlab matrix --help)
  memlab merge [--out reports] [--baseline FILE] DIR|NAME=path/to/claims.json ...
  memlab vm-matrix [--out reports] NAME=path/to/claims.json ...
  memlab docker cgroup CONTAINER | image [--force] [--online] [--remove] | sweep
  memlab sweep
  memlab env`

// help is each subcommand's --help text; the ones with many flags keep
// theirs beside their code.
var help = map[string]string{
	"run":       runUsage,
	"report":    reportUsage,
	"grade":     gradeUsage,
	"matrix":    matrixUsage,
	"merge":     mergeUsage,
	"vm-matrix": vmMatrixUsage,
	"docker":    dockerUsage,
	"sweep":     "usage: memlab sweep\n  removes what runs that were killed left behind: lab groups and the grader's groups and the processes in them, lab containers, temp directories (needs root)",
	"env":       "usage: memlab env\n  prints the cgroup layout memlab found: version, memory controller root",
}

const reportUsage = `usage: memlab report [flags]
  --from FILE   the Ginkgo JSON report to read (default reports/ginkgo.json)
  --out DIR     where claims.json, claims.md and index.html go (default reports; Ginkgo
                writes junit.xml there itself)
  --suites PKGS the packages the run was to run, as given to ginkgo ("./specs/reexec
                ./specs/docker"): one missing from the report (its test binary was killed
                before writing its part) makes the run unfinished, as an interrupt does`

func main() {
	runner.Init() // in the re-executed child this runs the child and exits
	if len(os.Args) < 2 {
		fail("", fmt.Errorf("%w: no subcommand", runner.ErrUsage))
	}
	sub, args := os.Args[1], os.Args[2:]
	if text, ok := help[sub]; ok && len(args) > 0 && isHelp(args[0]) {
		fmt.Println(text)
		return
	}
	var code int
	var err error
	switch sub {
	case "run":
		code, err = cmdRun(args)
	case "report":
		err = cmdReport(args)
	case "grade":
		err = cmdGrade(args)
	case "matrix":
		err = cmdMatrix(args)
	case "merge":
		err = cmdMerge(args)
	case "vm-matrix":
		err = cmdVMMatrix(args)
	case "docker":
		err = cmdDocker(args)
	case "sweep":
		err = cmdSweep(args)
	case "env":
		err = cmdEnv(args)
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)
		return
	default:
		sub = ""
		err = fmt.Errorf("%w: unknown subcommand %q", runner.ErrUsage, os.Args[1])
	}
	if errors.Is(err, flag.ErrHelp) { // -h after other flags
		fmt.Println(help[sub])
		return
	}
	if err != nil {
		fail(sub, err)
	}
	os.Exit(code)
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// fail prints one line and exits with the status that names the kind of
// mistake; a usage mistake's line ends saying where the usage is.
func fail(sub string, err error) {
	msg := err.Error()
	if errors.Is(err, runner.ErrUsage) {
		msg += " (" + strings.TrimSpace("memlab "+sub) + " --help)"
	}
	fmt.Fprintln(os.Stderr, "memlab:", msg)
	os.Exit(exitCode(err))
}
