package grade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// classroomWorkflow is the autograding workflow a template repository
// copies as it is (docs/classroom.md).
var classroomWorkflow = filepath.Join(repoRoot, ".github", "workflows", "classroom.yml")

// TestClassroomWorkflowIsWhatTheReporterAccepts checks what actionlint
// cannot: the names Classroom's reporter requires, and that the score it
// reports is the one make grade writes.
func TestClassroomWorkflowIsWhatTheReporterAccepts(t *testing.T) {
	b, err := os.ReadFile(classroomWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Name string `yaml:"name"`
		Jobs map[string]struct {
			Steps []struct {
				ID   string            `yaml:"id"`
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	if wf.Name != "Autograding Tests" || len(wf.Jobs) != 1 {
		t.Fatalf("workflow %q with %d jobs: the reporter wants \"Autograding Tests\" with one job", wf.Name, len(wf.Jobs))
	}
	job, ok := wf.Jobs["run-autograding-tests"]
	if !ok {
		t.Fatalf("jobs %v: the reporter wants the one job named run-autograding-tests", wf.Jobs)
	}
	var graded, reported bool
	for _, s := range job.Steps {
		if s.ID == "memlab" && strings.Contains(s.Run, "make grade RUNNER=") && strings.Contains(s.Run, "reports/grades.json") {
			graded = true
		}
		if strings.HasPrefix(s.Uses, "classroom-resources/autograding-grading-reporter@") && s.With["runners"] == "memlab" &&
			s.Env["MEMLAB_RESULTS"] == "${{ steps.memlab.outputs.result }}" {
			reported = true
		}
	}
	if !graded || !reported {
		t.Errorf("make grade's grades.json handed to the reporter as MEMLAB_RESULTS: graded %v, reported %v", graded, reported)
	}
	// docs/classroom.md points at the file instead of keeping a copy.
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "classroom.md"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "```yaml") || !strings.Contains(string(doc), ".github/workflows/classroom.yml") {
		t.Error("docs/classroom.md should point at .github/workflows/classroom.yml, not hold a workflow of its own")
	}
}
