package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/inputfile"
)

// Names of the Ginkgo report entries specs use to hand figures, verdicts and
// the environment to the ledger. Ginkgo's own JSON report is the one record
// of a run; the ledger is derived from it.
const (
	EntryFigure  = "memlab.figure"
	EntryVerdict = "memlab.verdict"
	EntryEnv     = "memlab.env"
	EntrySeries  = "memlab.series"
	// EntryEngineGone: the Docker engine stopped answering while the spec
	// ran; its value is the engine's status (the client's error).
	EntryEngineGone = "memlab.engine-gone"
)

// EngineGone begins the reason of every claim the Docker engine's loss
// cut short: such a claim has no result, it did not fail.
const EngineGone = "the Docker engine went away"

// VerdictEntry is what a passing spec says about its claim.
type VerdictEntry struct {
	Verdict Verdict `json:"verdict"`
	Why     string  `json:"why,omitempty"`
}

// MaxGinkgoJSON bounds what LoadGinkgoJSON reads: every suite of a full
// run reports a few MiB; more is not a report (or is /dev/zero).
const MaxGinkgoJSON = 64 << 20

// ErrNotGinkgoReport: the file is not a Ginkgo JSON report: too large, not
// JSON, or JSON of another shape (null, [], a suite with no name).
var ErrNotGinkgoReport = errors.New("not a Ginkgo JSON report")

// LoadGinkgoJSON reads a report written by ginkgo --json-report.
func LoadGinkgoJSON(path string) ([]types.Report, error) {
	data, err := inputfile.Read(path, MaxGinkgoJSON)
	if errors.Is(err, inputfile.ErrTooLarge) || errors.Is(err, inputfile.ErrNotRegular) {
		return nil, fmt.Errorf("%w: %w", ErrNotGinkgoReport, err)
	}
	if err != nil {
		return nil, err
	}
	reports, err := ParseGinkgoJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reports, nil
}

// ParseGinkgoJSON reads a Ginkgo JSON report: a list of suites, each named.
// A document of another shape is refused, so that it cannot pass for a
// run that found nothing.
func ParseGinkgoJSON(data []byte) ([]types.Report, error) {
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotGinkgoReport, err)
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("%w: it holds no suite", ErrNotGinkgoReport)
	}
	for i, r := range reports {
		if r.SuitePath == "" && r.SuiteDescription == "" {
			return nil, fmt.Errorf("%w: suite %d has no name or path", ErrNotGinkgoReport, i+1)
		}
	}
	return reports, nil
}

// unfinished are the starts of the reasons Ginkgo gives a suite that did
// not run to its end: interrupted, not compiled, out of time, never run.
var unfinished = []string{"Interrupted by", "Failed to compile", "Suite did not run because",
	"Suite Timeout Elapsed", "Failed to iterate over specs", leftNoReport}

// leftNoReport is memlab's reason for a suite the run was to run that is
// missing from the report: Ginkgo leaves out a suite whose test binary was
// killed (or crashed) before writing its part, so its claims would vanish.
const leftNoReport = "Suite left no report"

// ExpectSuites adds to a run's report a suite for each package it was to
// run (as given to ginkgo: "./specs/docker") that the report lacks, one
// that did not run to its end. A suite matches by its package path.
func ExpectSuites(suites []types.Report, packages []string) []types.Report {
	out := slices.Clone(suites)
	for _, pkg := range packages {
		rel := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(pkg)), "./")
		if rel == "" || rel == "." {
			continue
		}
		found := slices.ContainsFunc(suites, func(s types.Report) bool {
			p := filepath.ToSlash(filepath.Clean(s.SuitePath))
			return p == rel || strings.HasSuffix(p, "/"+rel)
		})
		if !found {
			out = append(out, types.Report{SuitePath: pkg, SuiteDescription: rel,
				SpecialSuiteFailureReasons: []string{leftNoReport + ": its test binary ended without writing its part of the Ginkgo report (killed, or crashed)"}})
		}
	}
	return out
}

// Unfinished names each suite that did not run to its end, with Ginkgo's
// reason ("specs/reexec: Interrupted by User"), or whose BeforeSuite (or
// another suite-level node) failed, which decided none of its claims. A report holding one is not
// the claims' verdicts: an interrupted spec would read "failed", the specs
// after it "skipped", and a suite that never compiled nothing at all.
func Unfinished(suites []types.Report) []string {
	var out []string
	for _, s := range suites {
		for _, why := range s.SpecialSuiteFailureReasons {
			for _, u := range unfinished {
				if strings.HasPrefix(why, u) {
					line, _, _ := strings.Cut(why, "\n")
					out = append(out, fmt.Sprintf("%s: %s", suiteName(s), line))
					break
				}
			}
		}
		// After Ginkgo's own reasons: an interrupt during BeforeSuite also
		// fails it, and is an interruption first.
		if f := setupFailure(s); f != "" {
			out = append(out, fmt.Sprintf("%s: %s", suiteName(s), f))
		}
	}
	return out
}

// setupFailure is a suite's failed suite-level node (a BeforeSuite that
// could not make the suite's container, say), "" when none failed: every
// claim spec of the suite was then skipped for it, none decided. A claim
// spec's own failure is its verdict, not this.
func setupFailure(s types.Report) string {
	for _, spec := range s.SpecReports {
		if spec.LeafNodeType.Is(types.NodeTypesForSuiteLevelNodes) && spec.State.Is(types.SpecStateFailureStates) {
			return clip(fmt.Sprintf("[%s] %s: %s", spec.LeafNodeType, spec.State, firstLine(spec.Failure.Message)), 300)
		}
	}
	return ""
}

func suiteName(s types.Report) string {
	if s.SuiteDescription != "" {
		return s.SuiteDescription
	}
	return s.SuitePath
}

// FromGinkgo turns Ginkgo suite reports into one ledger report: a result per
// claim and cgroup mode, in ledger order.
func FromGinkgo(suites []types.Report) (Report, error) {
	var rep Report
	rep.Generated = time.Now().UTC()
	index := map[string]int{}
	for _, suite := range suites {
		cut := cutShort(suite)
		selected := selection(suite.SuiteConfig)
		env, envOK := suiteEnv(suite)
		if envOK && rep.Env.Kernel == "" {
			rep.Env = env
		} else if envOK && env.Docker != "" {
			rep.Env.Docker = env.Docker
		}
		for _, spec := range suite.SpecReports {
			if spec.LeafNodeType != types.NodeTypeIt {
				continue
			}
			id, err := ClaimOf(spec.Labels())
			if err != nil {
				return rep, fmt.Errorf("spec %q: %w", spec.FullText(), err)
			}
			if id == "" {
				continue // not a claim spec (a helper's own test)
			}
			claim, err := Lookup(id)
			if err != nil {
				return rep, fmt.Errorf("spec %q: %w", spec.FullText(), err)
			}
			mode := ModeOf(spec.Labels())
			key := claim.ID + "/" + mode
			i, seen := index[key]
			if !seen {
				rep.Results = append(rep.Results, Result{
					ID: claim.ID, Claim: claim.Statement, Mode: mode, Kernel: env.Kernel,
					Verdict: NoResult, Article: claim.Article,
				})
				i = len(rep.Results) - 1
				index[key] = i
			}
			res := &rep.Results[i]
			res.Specs = append(res.Specs, spec.FullText())
			res.RunTimeMS += spec.RunTime.Milliseconds()
			res.Series = append(res.Series, specSeries(spec)...)
			v, why, figs := specOutcome(spec)
			if cut != "" && v == Skipped && why == notSelected && selected(spec) {
				v, why = Interrupted, "not run: the run was cut short before it ("+cut+")"
				if !isInterruption(cut) {
					v, why = NoResult, "not run: its suite could not run it ("+cut+")"
				}
			}
			res.Observed = append(res.Observed, figs...)
			for _, f := range figs {
				if f.File != "" && !contains(res.Files, f.File) {
					res.Files = append(res.Files, f.File)
				}
			}
			res.merge(v, why)
		}
	}
	rep.listUnrun(suites)
	rep.Sort()
	return rep, nil
}

// listUnrun adds, for a run that did not finish, every ledger claim and
// mode that no suite reported: their suite never ran (Ctrl-C before it
// started, or while it compiled). Left out, they would vanish from the
// report as if they were never claimed.
func (rep *Report) listUnrun(suites []types.Report) {
	unfinished := Unfinished(suites)
	if len(unfinished) == 0 {
		return
	}
	// The ledger does not say which suite decides a claim, so an unrun
	// claim's verdict is the run's: interrupted if anything cut it short,
	// the reasons of every suite beside it.
	verdict, why := NoResult, "its suite gave no verdict: "+strings.Join(unfinished, "; ")
	for _, s := range suites {
		if slices.ContainsFunc(s.SpecialSuiteFailureReasons, isInterruption) {
			verdict = Interrupted
		}
	}
	have := map[string]bool{}
	for _, res := range rep.Results {
		have[res.ID+"/"+res.Mode] = true
		have[res.ID+"/any"] = have[res.ID+"/any"] || res.Mode == "any"
	}
	kernel := rep.Env.Kernel
	if kernel == "" {
		kernel = "unknown"
	}
	for _, c := range Claims {
		for _, mode := range Modes {
			if have[c.ID+"/"+mode] || have[c.ID+"/any"] {
				continue
			}
			rep.Results = append(rep.Results, Result{ID: c.ID, Claim: c.Statement, Mode: mode, Kernel: kernel,
				Verdict: verdict, Article: c.Article, Why: why})
		}
	}
}

// isInterruption: a suite's reason for not finishing cut the run short
// (Ctrl-C, a kill, even while it compiled, a timeout, a suite killed before
// its report, or one not run because of those) rather than a broken build:
// every unfinished reason but a compile failure without a signal.
func isInterruption(reason string) bool {
	if strings.HasPrefix(reason, "Failed to compile") {
		return strings.Contains(reason, "signal: ")
	}
	return slices.ContainsFunc(unfinished, func(u string) bool { return strings.HasPrefix(reason, u) })
}

// notSelected is the reason of a spec Ginkgo skipped without saying why:
// its label filter or focus left it out, or an interrupt came first.
const notSelected = "not selected in this run"

// cutShort is Ginkgo's reason a suite did not run to its end ("Interrupted
// by User"), or "" for a suite that finished.
func cutShort(suite types.Report) string {
	if u := Unfinished([]types.Report{suite}); len(u) > 0 {
		_, why, _ := strings.Cut(u[0], ": ")
		return why
	}
	return ""
}

// selection tells whether the run's filters (label filter, --focus,
// --skip) picked a spec, so that a spec an interrupt skipped reads
// "interrupted" and one the filters left out still reads "not selected".
func selection(cfg types.SuiteConfig) func(types.SpecReport) bool {
	labels, err := types.ParseLabelFilter(cfg.LabelFilter)
	if err != nil {
		labels = func([]string) bool { return true }
	}
	matchesAny := func(patterns []string, text string) bool {
		for _, p := range patterns {
			if re, err := regexp.Compile(p); err == nil && re.MatchString(text) {
				return true
			}
		}
		return false
	}
	return func(spec types.SpecReport) bool {
		if cfg.LabelFilter != "" && !labels(spec.Labels()) {
			return false
		}
		text := spec.FullText()
		if len(cfg.FocusStrings) > 0 && !matchesAny(cfg.FocusStrings, text) {
			return false
		}
		return !matchesAny(cfg.SkipStrings, text)
	}
}

func specOutcome(spec types.SpecReport) (Verdict, string, []Figure) {
	var figs []Figure
	var ve *VerdictEntry
	for _, e := range spec.ReportEntries {
		switch e.Name {
		case EntryFigure:
			var f Figure
			if decode(e, &f) == nil {
				figs = append(figs, f)
			}
		case EntryVerdict:
			var v VerdictEntry
			if decode(e, &v) == nil {
				ve = &v
			}
		}
	}
	if gone, ok := engineGone(spec); ok && spec.State != types.SpecStatePassed {
		return NoResult, EngineGone + ": " + gone, figs
	}
	switch spec.State {
	case types.SpecStatePassed:
		if ve == nil {
			return Failed, "harness: the spec passed without stating a verdict", figs
		}
		return ve.Verdict, ve.Why, figs
	case types.SpecStateSkipped:
		why := firstLine(spec.Failure.Message)
		if why == "" {
			why = notSelected
		}
		return Skipped, why, figs
	case types.SpecStatePending:
		return Skipped, "pending", figs
	case types.SpecStateInterrupted:
		return Interrupted, "interrupted while it ran: " + firstLine(spec.Failure.Message), figs
	default:
		return Failed, spec.State.String() + ": " + firstLine(spec.Failure.Message), figs
	}
}

// engineGone is the engine's status a spec filed when the engine stopped
// answering during it.
func engineGone(spec types.SpecReport) (string, bool) {
	for _, e := range spec.ReportEntries {
		var status string
		if e.Name == EntryEngineGone && decode(e, &status) == nil {
			return status, true
		}
	}
	return "", false
}

// CutByEngine names the claims ("D3/v1") the Docker engine's loss cut
// short, and the engine's status the first of them filed.
func (r Report) CutByEngine() (claims []string, status string) {
	for _, res := range r.Results {
		if res.Verdict == NoResult && strings.HasPrefix(res.Why, EngineGone) {
			claims = append(claims, res.ID+"/"+res.Mode)
			if status == "" {
				status = strings.TrimPrefix(res.Why, EngineGone+": ")
			}
		}
	}
	return claims, status
}

func specSeries(spec types.SpecReport) []Series {
	var out []Series
	for _, e := range spec.ReportEntries {
		var s Series
		if e.Name == EntrySeries && decode(e, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

func suiteEnv(suite types.Report) (Env, bool) {
	for _, spec := range suite.SpecReports {
		for _, e := range spec.ReportEntries {
			if e.Name == EntryEnv {
				var env Env
				if decode(e, &env) == nil {
					return env, true
				}
			}
		}
	}
	return Env{Kernel: "unknown"}, false
}

// decode reads an entry's value, whether it was made in this process or
// loaded back from a JSON report.
func decode(e types.ReportEntry, into any) error {
	if raw := e.Value.GetRawValue(); raw != nil {
		b, err := json.Marshal(raw)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, into)
	}
	return json.Unmarshal([]byte(e.Value.AsJSON), into)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}
