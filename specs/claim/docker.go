package claim

import (
	"flag"
	"strings"

	"github.com/onsi/ginkgo/v2"

	"github.com/memlab/memlab/labs/report/ledger"
)

// RequireDockerFlag makes a missing engine fail the Docker claims instead
// of skipping them: CI passes it, so that a broken provisioning step cannot
// hide behind skips. Every suite that imports this package takes it, so one
// command line can pass it to all of them:
//
//	go tool ginkgo ./specs/rawcgroup ./specs/docker -- -memlab.require-docker
const RequireDockerFlag = "memlab.require-docker"

var requireDocker = flag.Bool(RequireDockerFlag, false,
	"fail the Docker claims, rather than skip them, when there is no Docker engine")

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
	ginkgo.AddReportEntry(ledger.EntryEnv, env, ledgerOnly)
}

// NoDocker ends a spec that needs the engine when there is none: a skip
// with the reason, or, under -memlab.require-docker, a one-line failure.
func NoDocker(reason string) {
	ginkgo.GinkgoHelper()
	reason = firstLine(reason)
	if *requireDocker {
		ginkgo.Fail("-" + RequireDockerFlag + " is set but " + reason)
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

// EngineWentAway files that the Docker engine stopped answering during the
// spec, with the engine's status (the client's error): the ledger then
// reads the claim as cut short by the engine ("no result"), not failed.
func EngineWentAway(status string) {
	ginkgo.AddReportEntry(ledger.EntryEngineGone, firstLine(status), ledgerOnly)
}
