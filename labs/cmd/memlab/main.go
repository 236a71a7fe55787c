// Command memlab runs the cgroup memory labs: `memlab run` is the article's
// program done right, `memlab report` turns a Ginkgo run into the claims
// report, `memlab grade` scores a runner from the runner suite's report,
// `memlab sweep` removes what a killed run left behind.
package main

import (
	"fmt"
	"os"

	"github.com/memlab/memlab/labs/runner"
)

const usage = `usage:
  memlab run [--memory 100m] [--ns uts,mnt,pid|none] [--attach before-exec|after-start]
             [--name NAME] [--result FILE] -- CMD [ARGS...]
  memlab report [--from reports/ginkgo.json] [--out reports]
  memlab grade [--rubric fixtures/rubric.json] [--from reports/runner.json] [--out reports]
  memlab matrix [--kernels LIST] [--modes v1,v2] [--baseline FILE] (see memlab matrix --help)
  memlab vm-matrix [--out reports] NAME=path/to/claims.json ...
  memlab docker cgroup CONTAINER | image [--force] [--online] [--remove] | sweep
  memlab sweep
  memlab env`

func main() {
	runner.Init() // in the re-executed child this runs the child and exits
	if len(os.Args) < 2 {
		fail(fmt.Errorf("%w: no subcommand\n%s", runner.ErrUsage, usage))
	}
	var code int
	var err error
	switch os.Args[1] {
	case "run":
		code, err = cmdRun(os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	case "grade":
		err = cmdGrade(os.Args[2:])
	case "matrix":
		err = cmdMatrix(os.Args[2:])
	case "vm-matrix":
		err = cmdVMMatrix(os.Args[2:])
	case "docker":
		err = cmdDocker(os.Args[2:])
	case "sweep":
		err = cmdSweep(os.Args[2:])
	case "env":
		err = cmdEnv(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return
	default:
		err = fmt.Errorf("%w: unknown subcommand %q\n%s", runner.ErrUsage, os.Args[1], usage)
	}
	if err != nil {
		fail(err)
	}
	os.Exit(code)
}

// fail prints one line (the usage text only for usage errors) and exits
// with the status that names the kind of mistake.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "memlab:", err)
	os.Exit(exitCode(err))
}
