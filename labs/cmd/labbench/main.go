// Command labbench is `make bench`: it times whole suite binaries over
// several runs (median, since a lab's wall time is what a student waits
// for) and measures memlab's own peak memory. Targets live here, not in
// timed tests: a slow run is reported, never failed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/memlab/memlab/labs/matrix/sysimage"
)

func main() {
	runs := flag.Int("runs", 5, "runs per suite")
	memlab := flag.String("memlab", "bin/memlab", "the memlab binary whose peak memory is measured")
	target := flag.Duration("target", 10*time.Second, "the wall-time target for all suites together (median)")
	matrixJSON := flag.String("matrix", "", "report a kernel matrix run's times from its matrix.json instead of timing suites")
	imageDir := flag.String("image-cache", sysimage.DefaultDir, "with -matrix: where the Docker guest image's build time is recorded")
	cellTarget := flag.Duration("cell-target", 150*time.Second, "with -matrix: the target for one Docker cell")
	buildTarget := flag.Duration("build-target", 5*time.Minute, "with -matrix: the target for building the Docker guest image once")
	flag.Parse()
	if *matrixJSON != "" {
		if err := matrixTimes(*matrixJSON, *imageDir, *target, *cellTarget, *buildTarget); err != nil {
			fmt.Fprintln(os.Stderr, "labbench:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: labbench [-runs N] [-memlab bin/memlab] SUITE.test...")
		os.Exit(64)
	}
	var total time.Duration
	for _, bin := range flag.Args() {
		bin, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "labbench:", err)
			os.Exit(1)
		}
		var walls []time.Duration
		for range *runs {
			start := time.Now()
			cmd := exec.Command(bin, "--ginkgo.no-color", "--ginkgo.succinct")
			cmd.Dir = filepath.Dir(bin)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "labbench: %s failed: %v\n%s", bin, err, out)
				os.Exit(1)
			}
			walls = append(walls, time.Since(start))
		}
		slices.Sort(walls)
		med := walls[len(walls)/2]
		total += med
		fmt.Printf("%-28s median %7.3fs  min %7.3fs  max %7.3fs  (%d runs)\n", filepath.Base(bin), med.Seconds(), walls[0].Seconds(), walls[len(walls)-1].Seconds(), *runs)
	}
	verdict := "within"
	if total > *target {
		verdict = "OVER"
	}
	fmt.Printf("%-28s median %7.3fs  target %v: %s\n", "all suites", total.Seconds(), *target, verdict)
	peak(*memlab)
}

// peak runs memlab on the article's 99m workload for a second and reports
// the resident peak of memlab itself and of its re-executed child.
func peak(memlab string) {
	result, err := os.CreateTemp("", "labbench-*.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, "labbench:", err)
		os.Exit(1)
	}
	result.Close()
	defer os.Remove(result.Name())
	cmd := exec.Command(memlab, "run", "--memory", "100m", "--result", result.Name(), "--",
		"stress", "--vm-bytes", "50m", "--vm-keep", "-m", "1", "--timeout", "1")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "labbench: memlab run failed: %v\n%s", err, out)
		os.Exit(1)
	}
	var res struct {
		Memlab int64 `json:"memlab_peak_kib"`
		Child  int64 `json:"child_peak_kib"`
	}
	b, _ := os.ReadFile(result.Name())
	if err := json.Unmarshal(b, &res); err != nil || res.Memlab == 0 {
		fmt.Fprintf(os.Stderr, "labbench: no peak figures in memlab's result: %s\n", b)
		os.Exit(1)
	}
	fmt.Printf("%-28s memlab %d KiB, its re-executed child %d KiB (VmHWM; stress's 50m not included)\n", "memlab run peak memory", res.Memlab, res.Child)
}
