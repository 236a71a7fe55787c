# mk/grade.mk: grade a runner black-box against THE RUNNER CONTRACT
# (docs/exercises/02-your-own-runner.md) with the points of fixtures/rubric.json.
# Included by the top-level Makefile; also runs alone (as root):
#   make grade                              grade the reference, bin/memlab run
#   make grade RUNNER=./student-runner      any program that honours the contract
#   make grade RUNNER='python3 runner.py'   words; a first word with a / is
#                                           taken from the repository root
#   make grade-check                        the reference and each broken runner
#                                           of labs/grade/testdata/runners/ score exactly
#                                           what the rubric says (GRADE_RUNS=10:
#                                           ten times each)
# make grade writes reports/runner.json (Ginkgo), reports/runner-junit.xml,
# reports/grades.json (GitHub Classroom), reports/results.json (Gradescope)
# and reports/runner.log, prints "Points x/y", and fails below the rubric's
# pass mark. RUNNER_TIMEOUT (default 30s) bounds each run of the runner.

# This file's directory, fixed now: MAKEFILE_LIST grows with each include.
MEMLAB_GRADE_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MEMLAB_GRADE_ROOT   := $(abspath $(MEMLAB_GRADE_MK_DIR)/..)
MEMLAB_GRADE_GO     ?= go
RUNNER         ?=
RUNNER_TIMEOUT ?= 30s
GRADE_RUBRIC   ?= fixtures/rubric.json
GRADE_REPORTS  ?= reports
GRADE_RUNS     ?= 1

_memlab_grade_root_check = if [ "$$(id -u)" != 0 ]; then \
	echo "memlab: grading runs the runner, which writes the cgroup filesystem: use sudo" >&2; exit 67; fi

# Do not steal the including Makefile's default goal; alone, default to grade.
_memlab_grade_saved_goal := $(.DEFAULT_GOAL)

.PHONY: grade grade-check
# Everything is built and the rubric read before the runner runs; memlab
# grade runs the compiled suite confined (labs/grade/supervise), kills all
# it started, and only then scores and writes the grade files.
grade: ## grade RUNNER (default: the reference) against the runner contract; Points x/y
	@$(_memlab_grade_root_check)
	@cd $(MEMLAB_GRADE_ROOT) && mkdir -p bin $(GRADE_REPORTS) && \
	$(MEMLAB_GRADE_GO) build -o bin/memlab ./labs/cmd/memlab && \
	$(MEMLAB_GRADE_GO) test -c -o bin/runner.test ./specs/runner && \
	echo "grading $(if $(RUNNER),$(RUNNER),bin/memlab run) (the runner suite's log: $(GRADE_REPORTS)/runner.log)" && \
	bin/memlab grade --rubric $(GRADE_RUBRIC) --suite bin/runner.test \
		--runner '$(RUNNER)' --runner-timeout '$(RUNNER_TIMEOUT)' --out $(GRADE_REPORTS)

grade-check: ## the reference and every broken runner score exactly what the rubric says
	@$(_memlab_grade_root_check)
	cd $(MEMLAB_GRADE_ROOT) && $(MEMLAB_GRADE_GO) test -count=1 -timeout=2h -v \
		-run '^TestKnownRunnersLoseExactlyTheirPoints$$' ./labs/grade \
		-args -grade.fixtures -grade.runs=$(GRADE_RUNS)

ifneq ($(_memlab_grade_saved_goal),)
.DEFAULT_GOAL := $(_memlab_grade_saved_goal)
else ifneq ($(words $(MAKEFILE_LIST)),1)
# Included before any target: let the includer's next target be the default.
.DEFAULT_GOAL :=
endif
