package claim

import (
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2"

	"github.com/memlab/memlab/labs/report/ledger"
)

// RequireDockerVar names the variable CI sets so that a missing engine
// fails the Docker claims instead of skipping them: a broken provisioning
// step must not hide behind skips.
const RequireDockerVar = "MEMLAB_REQUIRE_DOCKER"

// NeedsDocker labels the specs that need a Docker engine, so that a run
// can leave them out: --label-filter='!docker'.
var NeedsDocker = ginkgo.Label("docker")

// RecordDockerEnv files the environment with the Docker engine's and the
// CLIs' versions. Call it from BeforeSuite in place of RecordEnv: it files
// one complete memlab.env entry, because ledger.FromGinkgo reads only the
// first such entry of a suite (a second one, carrying only Docker, would
// be lost).
func RecordDockerEnv(engine, cli string) {
	env, _, _ := Env()
	parts := []string{}
	for _, s := range []string{engine, cli} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	env.Docker = strings.Join(parts, "; ")
	ginkgo.AddReportEntry(ledger.EntryEnv, env)
}

// NoDocker ends a spec that needs the engine when there is none: a skip
// with the reason, or, when MEMLAB_REQUIRE_DOCKER=1, a one-line failure.
func NoDocker(reason string) {
	ginkgo.GinkgoHelper()
	reason = firstLine(reason)
	if os.Getenv(RequireDockerVar) == "1" {
		ginkgo.Fail(RequireDockerVar + "=1 but " + reason)
	}
	ginkgo.Skip(reason)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
