package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/memlab/memlab/labs/inputfile"
	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/matrix/sysimage"
)

// matrixTimes reports, from a matrix run's matrix.json, the run's wall
// time and each Docker cell's against their targets, and the Docker guest
// image's build time as its cache recorded it (images in imageDir).
func matrixTimes(file, imageDir string, runTarget, cellTarget, buildTarget time.Duration) error {
	b, err := inputfile.Read(file, matrix.MaxMatrixJSON)
	if err != nil {
		return err
	}
	var m matrix.Matrix
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	within := func(s float64, t time.Duration) string {
		if s <= t.Seconds() {
			return "within"
		}
		return "OVER"
	}
	fmt.Printf("%-28s %7.1fs  target %v: %s (%d cells, %s, %d at a time)\n", "kernel matrix, every cell", m.WallSeconds,
		runTarget, within(m.WallSeconds, runTarget), len(m.Cells), m.Accel, m.Jobs)
	docker := 0
	for _, c := range m.Cells {
		if c.Driver == "" || c.Status == matrix.Skipped {
			continue
		}
		docker++
		fmt.Printf("  %-26s %7.1fs  target %v: %s (%s; boot %.1fs)\n", c.ID, c.WallSeconds, cellTarget,
			within(c.WallSeconds, cellTarget), c.Status, c.BootSeconds)
	}
	if docker == 0 {
		fmt.Printf("  %-26s none booted in this run\n", "docker cells")
	}
	// The image memlab matrix boots (its --image-cache, the recipe's
	// defaults): images of other recipes are not this run's.
	image := sysimage.Builder{Dir: imageDir}
	if img, err := image.Cached(); err == nil {
		fmt.Printf("%-28s %7.1fs  target %v: %s (built %s, then cached: %s)\n", "docker guest image build", img.BuildSecs,
			buildTarget, within(img.BuildSecs, buildTarget), img.Built.Format("2006-01-02 15:04"), image.Path())
	} else {
		fmt.Printf("%-28s no image of this recipe in %s (%v)\n", "docker guest image build", imageDir, err)
	}
	return nil
}
