package matrix

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// conclusion is how a finished table is reported: by a run of the
// matrix and by a merge of runs alike, so that both write the same files
// and apply the same baseline check.
type conclusion struct {
	Out, Stem     string       // Out/Stem.json and Out/Stem.md
	Baseline      *Baseline    // compare with it; nil: no comparison
	BaselineRef   *BaselineRef // what Baseline is, for messages
	WriteBaseline string       // record the table there when no claim failed
	Stdout        io.Writer
	Log           func(format string, a ...any)
	Artifacts     bool // Out/matrix/ holds the cells' console and suite reports
}

// conclude prints res.Matrix, compares it with the baseline, writes the
// reports and, when asked and nothing failed, the baseline. The error is
// ErrRegression when a verdict changed, ErrBadBaseline when no cell could
// be compared, ErrClaimsFailed when a claim failed or a cell gave no result.
func conclude(res Result, c conclusion) (Result, error) {
	m, out, say := res.Matrix, c.Stdout, c.Log
	fmt.Fprintln(out)
	m.WriteText(out)

	if c.Baseline != nil {
		cur := m.Baseline()
		res.Changes, res.Unseen, res.Fresh = Compare(*c.Baseline, cur)
		if len(res.Unseen) > 0 {
			say("baseline cells not run this time: %s", strings.Join(res.Unseen, ", "))
		}
		if len(res.Fresh) > 0 {
			say("cells with no baseline: %s", strings.Join(res.Fresh, ", "))
		}
		compared := len(cur.Cells) - len(res.Fresh)
		switch {
		case compared == 0 && len(m.Failures()) == 0:
			// Checked nothing: never a pass. The reports are still written.
			// (Cells with no result fail the run below, as that.)
			if err := m.WriteFilesAs(c.Out, c.Stem, nil); err != nil {
				return res, err
			}
			res.Written = true
			return res, fmt.Errorf("%w: %s: no cell of this run has a verdict to compare with it", ErrBadBaseline, c.BaselineRef.Name)
		case len(res.Changes) == 0 && len(m.Failures()) == 0:
			say("every verdict matches %s (%d cell(s) compared)", c.BaselineRef.Name, compared)
		}
	}
	if err := m.WriteFilesAs(c.Out, c.Stem, res.Changes); err != nil {
		return res, err
	}
	res.Written = true
	fmt.Fprintf(out, "\nreports: %s %s", filepath.Join(c.Out, c.Stem+".md"), filepath.Join(c.Out, c.Stem+".json"))
	if c.Artifacts {
		fmt.Fprintf(out, " (per-cell console and suite reports in %s)", filepath.Join(c.Out, "matrix"))
	}
	fmt.Fprintln(out)
	if len(res.Changes) > 0 {
		fmt.Fprintf(out, "\nchanged from %s:\n", c.BaselineRef.Name)
		for _, ch := range res.Changes {
			fmt.Fprintf(out, "  %s\n", ch)
		}
		return res, RegressionError(res.Changes)
	}
	// A failed claim is a regression of the kernel or of memlab: it fails
	// the run, and is never recorded as the baseline.
	if err := FailuresError(m.Failures()); err != nil {
		return res, err
	}
	if c.WriteBaseline != "" {
		if err := m.WriteBaseline(c.WriteBaseline); err != nil {
			return res, err
		}
		say("baseline written to %s", c.WriteBaseline)
	}
	return res, nil
}
