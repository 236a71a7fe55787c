package claim

import (
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/report/ledger"
	"github.com/memlab/memlab/labs/runner"
)

// SampleEvery is how often the specs that chart memory (G5, G6, D3) read
// the group's usage: fine enough to show stress's worker climbing to the
// limit in the ~50 ms it takes to touch 100m, cheap enough (one small file
// read) not to slow it.
const SampleEvery = 5 * time.Millisecond

// Series files a run's usage over time for the report's charts.
func Series(name, file string, res runner.Result) {
	ginkgo.GinkgoHelper()
	SeriesOf(name, file, res.Limit, res.Samples)
}

// SeriesOf files samples of any group (a container's, say) for the charts.
func SeriesOf(name, file string, limit int64, samples []cgroup.Sample) {
	ginkgo.GinkgoHelper()
	s := ledger.Series{Name: name, File: file, IntervalMS: SampleEvery.Milliseconds(), Limit: limit, OOMKillAtMS: -1}
	for _, p := range samples {
		s.Points = append(s.Points, ledger.Point{AtMS: p.AtMS, Bytes: p.Usage})
		if p.OOMKills > 0 && s.OOMKillAtMS < 0 {
			s.OOMKillAtMS = p.AtMS
		}
	}
	ginkgo.AddReportEntry(ledger.EntrySeries, s, ginkgo.ReportEntryVisibilityNever)
}
