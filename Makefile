# memlab: checks, on this kernel, every claim of the article on the cgroup
# memory controller. `make help` lists every target: each one's `##` comment.
#
# The labs need root and a cgroup filesystem with the memory controller;
# `make labs` installs what is missing through vagrant/provision.sh.

SHELL       := /bin/bash
GO          ?= go
GINKGO      := $(GO) tool ginkgo
REPORTS     := reports
MEMLAB      := bin/memlab
# The suites, one per article section (specs/runner is make grade's).
SUITES      ?= ./specs/rawcgroup ./specs/reexec ./specs/docker
# e.g. LABEL_FILTER='!docker', 'cgroup:v1' or 'claim:G5'
LABEL_FILTER ?=
# VERBOSE=1: every spec with its figures as it runs (else a line per suite;
# figures show beside a failure, and all of them are in reports/ginkgo.json).
VERBOSE     ?=
# REQUIRE_DOCKER=1: no Docker engine fails the Docker claims instead of
# skipping them (CI sets it: a broken engine must not hide behind skips).
REQUIRE_DOCKER ?=
GINKGO_OUTPUT := $(if $(filter 1,$(VERBOSE)),-v,--succinct)
SUITE_FLAGS   := $(if $(filter 1,$(REQUIRE_DOCKER)),-memlab.require-docker)
BENCH_RUNS  ?= 5

.DEFAULT_GOAL := help
.PHONY: help labs test lint unit fuzz bench clean provision matrix-test

help: ## list every target (this list)
	@awk -F ':[^#]*## ' '/^[a-z][a-z-]*:[^=]*## / { printf "  make %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

include mk/image.mk
include mk/matrix.mk
include mk/vm.mk
include mk/grade.mk

$(MEMLAB): FORCE
	@mkdir -p bin
	$(GO) build -o $@ ./labs/cmd/memlab
FORCE:

# Only what is missing is installed; a provisioned machine pays 0.1 s.
provision: ## install what the labs need that is missing (vagrant/provision.sh)
	@if [ "$$(id -u)" != 0 ]; then echo "memlab: the labs need root: run 'sudo make labs'" >&2; exit 67; fi
	@vagrant/provision.sh --check >/dev/null 2>&1 || vagrant/provision.sh

# Ginkgo writes junit.xml and its own JSON; memlab report turns the JSON into
# claims.json, claims.md and the table. The report is written even when a
# spec fails, and the failure still fails the target.
# Ginkgo's compiled suites and go's build files go into one directory per
# run, named with the run ID (PID.STARTTIME) of the recipe's shell
# (labs/rundir): removed when the recipe ends, and by `memlab sweep` (make
# clean) when a kill left it.
# On a machine that cannot run the labs (macOS, Windows, not root, no memory
# cgroup), `make labs` runs them in the memlab VM instead (mk/vm.mk).
ifeq ($(MEMLAB_LAB_MACHINE),no)
labs: labs-delegate
else
labs: provision $(MEMLAB) ## run every claim here and print the claim-by-claim report
	@mkdir -p $(REPORTS) && rm -f $(REPORTS)/ginkgo.json $(REPORTS)/junit.xml
	@status=0; \
	build=$$(mktemp -d "$${TMPDIR:-/tmp}/memlab-build-$$$$.$$(cut -d' ' -f22 /proc/$$$$/stat)-XXXXXX") || exit 70; \
	trap 'rm -rf "$$build"' EXIT; \
	TMPDIR=$$build GOTMPDIR=$$build $(GINKGO) --keep-going $(GINKGO_OUTPUT) --label-filter='$(LABEL_FILTER)' \
		--json-report=ginkgo.json --junit-report=junit.xml --output-dir=$(REPORTS) $(SUITES) \
		$(if $(SUITE_FLAGS),-- $(SUITE_FLAGS)) || status=$$?; \
	echo; $(MEMLAB) report --from $(REPORTS)/ginkgo.json --suites '$(SUITES)' --out $(REPORTS) || status=$$?; \
	exit $$status
endif

# CI's kernel matrix: fixtures/kernels-test.txt (the article's 4.4 from the
# shared folder, skipped with the reason where it is absent, and bookworm
# with its Docker cells). TEST_KERNELS, when set, replaces the list, as
# memlab matrix --kernels does: [NAME=]PATH or [NAME=]debian:SUITE, comma
# separated, each of which must exist.
TEST_KERNEL_LIST ?= fixtures/kernels-test.txt
TEST_KERNELS     ?=

test: lint lint-vm unit test-vm labs interrupts-short matrix-test grade-check ## what CI runs: lint, unit tests, the labs, interrupts, the kernel matrix, grading

# The interrupt acceptance test (test/interrupts.sh): make labs cut short
# at random points by INTERRUPTS SIGINTs and KILLS SIGKILLs; after each the
# previous reports must be intact and nothing left after memlab sweep, and
# a last run must give the solo run's verdicts. make test runs a short
# form that takes the verdicts of the labs it has just run as the solo's.
INTERRUPTS ?= 10
KILLS      ?= 3
.PHONY: interrupts interrupts-short
interrupts: provision $(MEMLAB) ## make labs cut short by INTERRUPTS (10) SIGINTs and KILLS (3) SIGKILLs, then checked: reports intact, nothing left, solo verdicts
	test/interrupts.sh --interrupts $(INTERRUPTS) --kills $(KILLS)

interrupts-short: provision $(MEMLAB) ## the short form make test runs: 2 SIGINTs, 1 SIGKILL, after make labs
	test/interrupts.sh --interrupts 2 --kills 1 --reuse-solo

matrix-test: $(MEMLAB) ## the kernel matrix on fixtures/kernels-test.txt (or TEST_KERNELS) only: what make test runs
	$(MEMLAB) matrix --go '$(GO)' $(if $(TEST_KERNELS),--kernels '$(TEST_KERNELS)',--kernel-list $(TEST_KERNEL_LIST)) --out $(REPORTS)

# Every tracked file whose first line is a sh, bash or dash shebang.
SCRIPTS = $(shell git ls-files -z | xargs -0 awk 'FNR==1 { if ($$0 ~ /^\#!.*(\/|env )(ba|da)?sh( |$$)/) print FILENAME; nextfile }')
# golangci-lint's version (and its ~200 dependencies) live in their own
# module file, out of the product's go.mod.
GOLANGCI := $(GO) tool -modfile=mk/tools/go.mod golangci-lint
# actionlint, pinned the same way in a module file of its own (its yaml/v4
# and golangci-lint's cannot share one); it runs shellcheck on every run:.
ACTIONLINT := $(GO) tool -modfile=mk/tools/actionlint/go.mod actionlint

lint: ## gofmt, go vet, golangci-lint (.golangci.yml), go mod tidy -diff, shellcheck on every script, actionlint on .github/workflows
	@out=$$(gofmt -l labs specs test fixtures); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI) run ./...
	$(GO) mod tidy -diff
	shellcheck -x $(SCRIPTS)
	$(ACTIONLINT) .github/workflows/*.yml

# specs/claim's test walks the suites (ginkgo --dry-run: no root) against the ledger.
# labs/cmd/memlab's tests are plain Go tests, which take no flag through
# `go test ./...`: they take REQUIRE_DOCKER as MEMLAB_REQUIRE_DOCKER.
unit: ## unit tests of the library, on files captured from real kernels (no root needed for most)
	MEMLAB_REQUIRE_DOCKER='$(filter 1,$(REQUIRE_DOCKER))' $(GO) test ./labs/... ./specs/claim/...

# A short pass over every fuzz target in the repository, found by go test
# -list, each for FUZZTIME (go test -fuzz takes one target at a time).
# A finding always writes its input to testdata/fuzz; Go's fuzzer may also
# stop at the FUZZTIME deadline with "context deadline exceeded" and no
# input (golang/go#51484), which is not a finding.
FUZZTIME ?= 10s
fuzz: ## a short go test -fuzz pass over every fuzz target in the repository (FUZZTIME=10s each)
	@set -o pipefail; \
	targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { names = names " " $$1; next } \
		/^ok/ { n = split(names, a, " "); for (i = 1; i <= n; i++) print $$2, a[i]; names = "" }') || exit 1; \
	[ -n "$$targets" ] || { echo "make fuzz: no fuzz targets found" >&2; exit 1; }; \
	while read -r pkg name; do \
		echo "fuzz: $$pkg $$name for $(FUZZTIME)"; \
		out=$$($(GO) test "$$pkg" -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) 2>&1) && continue; \
		echo "$$out" | grep -v '^fuzz: elapsed'; \
		if echo "$$out" | grep -q 'Failing input written' || ! echo "$$out" | grep -q 'context deadline exceeded'; then exit 1; fi; \
		echo "fuzz: $$name stopped at its deadline with no failing input (golang/go#51484): not a finding"; \
	done <<< "$$targets"

bench: provision $(MEMLAB) ## wall times of the suites, the matrix and its merge against their targets; memlab's peak memory
	@mkdir -p bin $(REPORTS)
	$(GINKGO) build -o bin ./specs/rawcgroup ./specs/reexec ./specs/docker >/dev/null
	$(GO) run ./labs/cmd/labbench -runs $(BENCH_RUNS) -memlab $(MEMLAB) -target 10s bin/rawcgroup.test bin/reexec.test
	$(GO) run ./labs/cmd/labbench -runs 3 -memlab $(MEMLAB) -target 15s bin/docker.test
	@# The kernel matrix with its Docker cells, once (kernels and the Docker
	@# guest image cached after the first run): 6 min in all, 150 s a Docker cell.
	@$(MEMLAB) matrix --go '$(GO)' --out $(REPORTS)/bench-matrix >$(REPORTS)/bench-matrix.log 2>&1 || \
		{ echo "the kernel matrix failed: see $(REPORTS)/bench-matrix.log"; exit 1; }
	$(GO) run ./labs/cmd/labbench -matrix $(REPORTS)/bench-matrix/matrix.json -target 6m -cell-target 150s -build-target 5m
	@# memlab merge of that run's output (every cell, console logs and suite reports copied): target 1 s.
	@start=$$(date +%s.%N); \
	$(MEMLAB) merge --out $(REPORTS)/bench-merge $(REPORTS)/bench-matrix >$(REPORTS)/bench-merge.log 2>&1 || \
		{ echo "the merge failed: see $(REPORTS)/bench-merge.log"; exit 1; }; \
	end=$$(date +%s.%N); \
	awk -v s=$$start -v e=$$end 'BEGIN { w = e - s; printf "%-28s %7.3fs  target 1s: %s\n", "memlab merge, every cell", w, (w <= 1 ? "within" : "OVER") }'

clean: ## remove bin/ and reports/, and whatever a killed run left (memlab sweep)
	@if [ -x $(MEMLAB) ] && [ "$$(id -u)" = 0 ]; then $(MEMLAB) sweep; fi
	rm -rf bin $(REPORTS)
