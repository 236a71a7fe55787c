# memlab: checks, on this kernel, every claim of the article on the cgroup
# memory controller.
#
#   make labs      run every claim here and print the claim-by-claim report
#   make test      what CI runs: lint, unit tests, the labs, bookworm's kernel under qemu, grading
#   make matrix    every claim on several kernels and both cgroup modes, under qemu
#   make grade     grade a runner (RUNNER=...) against the runner contract
#   make vm-labs   the labs in the student VM (vagrant up first)
#   make bench     wall times against their targets, memlab's peak memory
#   make clean     remove bin/ and reports/ (and any group a killed run left)
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
# e.g. LABEL_FILTER='!docker' or 'cgroup:v1'
LABEL_FILTER ?=
BENCH_RUNS  ?= 5

.DEFAULT_GOAL := help
.PHONY: help labs test lint unit fuzz bench clean provision matrix-test

help:
	@sed -n '4,10s/^# \{0,1\}//p' Makefile

include mk/image.mk
include mk/matrix.mk
include mk/vm.mk
include mk/grade.mk

$(MEMLAB): FORCE
	@mkdir -p bin
	$(GO) build -o $@ ./labs/cmd/memlab
FORCE:

# Only what is missing is installed; a provisioned machine pays 0.1 s.
provision:
	@if [ "$$(id -u)" != 0 ]; then echo "memlab: the labs need root: run 'sudo make labs'" >&2; exit 67; fi
	@vagrant/provision.sh --check >/dev/null 2>&1 || vagrant/provision.sh

# Ginkgo writes junit.xml and its own JSON; memlab report turns the JSON into
# claims.json, claims.md and the table. The report is written even when a
# spec fails, and the failure still fails the target.
# On a machine that cannot run the labs (macOS, Windows, not root, no memory
# cgroup), `make labs` runs them in the memlab VM instead (mk/vm.mk).
ifeq ($(MEMLAB_LAB_MACHINE),no)
labs: labs-delegate
else
labs: provision $(MEMLAB)
	@mkdir -p $(REPORTS) && rm -f $(REPORTS)/ginkgo.json $(REPORTS)/junit.xml
	@status=0; \
	$(GINKGO) --keep-going --label-filter='$(LABEL_FILTER)' \
		--json-report=ginkgo.json --junit-report=junit.xml --output-dir=$(REPORTS) $(SUITES) || status=$$?; \
	echo; $(MEMLAB) report --from $(REPORTS)/ginkgo.json --out $(REPORTS) || status=$$?; \
	exit $$status
endif

# CI's kernel matrix: bookworm's 6.1 in both modes, so the v2 claims run for
# real here too (the host's memory controller is on v1).
TEST_KERNELS ?= bookworm=debian:bookworm

test: lint lint-vm unit test-vm labs matrix-test grade-check

matrix-test: $(MEMLAB)
	$(MEMLAB) matrix --go '$(GO)' --kernels '$(TEST_KERNELS)' --out $(REPORTS)

lint:
	@out=$$(gofmt -l labs specs); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	shellcheck vagrant/*.sh labs/image/*.sh labs/grade/testdata/runners/* .ci/run

unit:
	$(GO) test ./labs/...

# A short pass over every fuzz target (go test -fuzz takes one at a time).
FUZZTIME ?= 10s
fuzz:
	@for t in FuzzParseSize FuzzValidateName FuzzParseKeyValues FuzzDetectFromMountinfo; do \
		$(GO) test ./labs/kernel/cgroup -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; done

bench: provision $(MEMLAB)
	@mkdir -p bin $(REPORTS)
	$(GINKGO) build -o bin ./specs/rawcgroup ./specs/reexec ./specs/docker >/dev/null
	$(GO) run ./labs/cmd/labbench -runs $(BENCH_RUNS) -memlab $(MEMLAB) -target 10s bin/rawcgroup.test bin/reexec.test
	$(GO) run ./labs/cmd/labbench -runs 3 -memlab $(MEMLAB) -target 15s bin/docker.test
	@# The kernel matrix, once (kernels cached after the first run): target 90 s.
	@start=$$(date +%s.%N); \
	$(MEMLAB) matrix --go '$(GO)' --out $(REPORTS)/bench-matrix >$(REPORTS)/bench-matrix.log 2>&1 || \
		{ echo "the kernel matrix failed: see $(REPORTS)/bench-matrix.log"; exit 1; }; \
	end=$$(date +%s.%N); \
	awk -v s=$$start -v e=$$end 'BEGIN { w = e - s; printf "%-28s %7.1fs  target 90s: %s\n", "kernel matrix, every cell", w, (w <= 90 ? "within" : "OVER") }'

clean:
	@if [ -x $(MEMLAB) ] && [ "$$(id -u)" = 0 ]; then $(MEMLAB) sweep; fi
	rm -rf bin $(REPORTS)
