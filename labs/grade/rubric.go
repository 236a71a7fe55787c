package grade

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/memlab/memlab/labs/inputfile"
)

// ErrBadRubric: the rubric is missing, is not JSON, or is one the grader
// could not apply faithfully (no specs, repeated IDs, an impossible pass
// mark).
var ErrBadRubric = errors.New("bad rubric")

// Rubric is fixtures/rubric.json: the runner specs' points and pass
// threshold, the broken runners' expected losses, and the hand-graded
// exercises' points per claim.
type Rubric struct {
	Title     string         `json:"title"`
	Version   int            `json:"version"`
	Runner    RunnerRubric   `json:"runner"`
	Exercises []ExerciseItem `json:"exercises"`
}

// RunnerRubric grades exercise 02 from the runner suite.
type RunnerRubric struct {
	Exercise      string        `json:"exercise"`
	Suite         string        `json:"suite"`
	Label         string        `json:"label"`
	PassThreshold int           `json:"pass_threshold"`
	Note          string        `json:"note"`
	Specs         []SpecPoints  `json:"specs"`
	Fixtures      []FixtureLoss `json:"fixtures"`
}

// SpecPoints is one runner spec's worth.
type SpecPoints struct {
	ID     string `json:"id"`
	Claim  string `json:"claim"`
	Points int    `json:"points"`
	Checks string `json:"checks"`
}

// FixtureLoss is what one known runner must lose, exactly.
type FixtureLoss struct {
	Runner  string   `json:"runner"`
	Loses   []string `json:"loses"`
	Timeout string   `json:"timeout,omitempty"`
	Dies    bool     `json:"dies,omitempty"` // it kills the suite: the grade must be an error with no points
	// Forges: it tries to rewrite the grade files after the grading; they
	// must still be what memlab wrote once its forger's time has passed.
	Forges bool   `json:"forges,omitempty"`
	Why    string `json:"why,omitempty"`
}

// ExerciseItem is a hand-graded exercise: points per claim.
type ExerciseItem struct {
	Exercise      string         `json:"exercise"`
	GradedBy      string         `json:"graded_by"`
	PassThreshold int            `json:"pass_threshold"`
	Claims        map[string]int `json:"claims"`
}

// maxRubric bounds what LoadRubric reads: the rubric is a few KiB.
const maxRubric = 1 << 20

// LoadRubric reads and checks a rubric; every error wraps ErrBadRubric.
func LoadRubric(path string) (Rubric, error) {
	var r Rubric
	b, err := inputfile.Read(path, maxRubric)
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrBadRubric, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%w: %s: %w", ErrBadRubric, path, err)
	}
	if err := r.Check(); err != nil {
		return r, fmt.Errorf("%w: %s: %w", ErrBadRubric, path, err)
	}
	return r, nil
}

var runnerSpecID = regexp.MustCompile(`^R[0-9]+$`)

// Check rejects a rubric the grader could not apply faithfully.
func (r Rubric) Check() error {
	seen := map[string]bool{}
	if len(r.Runner.Specs) == 0 {
		return errors.New("no runner specs")
	}
	for _, s := range r.Runner.Specs {
		if !runnerSpecID.MatchString(s.ID) || seen[s.ID] {
			return fmt.Errorf("bad or repeated spec id %q", s.ID)
		}
		if s.Points <= 0 {
			return fmt.Errorf("%s has %d points", s.ID, s.Points)
		}
		seen[s.ID] = true
	}
	if t := r.Runner.PassThreshold; t <= 0 || t > r.MaxPoints() {
		return fmt.Errorf("pass threshold %d outside 1..%d", t, r.MaxPoints())
	}
	for _, f := range r.Runner.Fixtures {
		for _, id := range f.Loses {
			if !seen[id] {
				return fmt.Errorf("fixture %s loses unknown spec %s", f.Runner, id)
			}
		}
	}
	return nil
}

// MaxPoints is the runner grade's full marks.
func (r Rubric) MaxPoints() int {
	n := 0
	for _, s := range r.Runner.Specs {
		n += s.Points
	}
	return n
}
