# mk/matrix.mk: the kernel matrix (issue 4): every kernel of
# fixtures/kernels.txt booted under qemu in cgroup v1 and v2 mode, the spec
# suites run inside each guest, the claims' verdicts tabulated per cell;
# bookworm also boots with systemd and Docker (the Docker cells, issue 12;
# MATRIX_FLAGS='--docker none' leaves them out).
# Included by the top-level Makefile; also runs alone:
#   make -f mk/matrix.mk matrix            run, write reports/matrix.{md,json},
#                                          fail naming the cells whose verdict
#                                          changed from fixtures/matrix-baseline.json
#   make -f mk/matrix.mk matrix-baseline   run, then record it as that baseline
#   make matrix KERNELS=path/to/vmlinuz    other kernels, comma separated: [NAME=]PATH,
#                                          [NAME=]debian:SUITE[/PACKAGE] or
#                                          [NAME=]ubuntu:SUITE[/PACKAGE] (docs/kernels.md)
#   make matrix MATRIX_LABELS='cgroup:v2 && !docker'   --ginkgo.label-filter in the guest
#   make matrix MATRIX_FLAGS='--modes v2 --jobs 1 --timeout 300s'
#   make matrix MATRIX_FLAGS='--shard 1/2 --out reports/shard1'   part of the plan only
#   make matrix-merge SHARDS='reports/shard1 reports/shard2'      the parts into reports/,
#                                          the one table, checked against the baseline
# Kernels are fetched once into /var/cache/memlab/kernels (MATRIX_FLAGS='--cache
# DIR' for another); `memlab matrix --help` lists every flag.

# This file's directory, fixed now: MAKEFILE_LIST grows with each include.
MEMLAB_MATRIX_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MEMLAB_MATRIX_ROOT   := $(abspath $(MEMLAB_MATRIX_MK_DIR)/..)
# The go that builds memlab also builds the suites the guests run.
MEMLAB_MATRIX_GO     ?= $(or $(GO),go)
MEMLAB_MATRIX_BASELINE ?= fixtures/matrix-baseline.json
MEMLAB_MATRIX_BIN    ?= bin/memlab
KERNELS      ?=
MATRIX_LABELS ?=
MATRIX_FLAGS ?=

_memlab_matrix_run = cd $(MEMLAB_MATRIX_ROOT) && \
	$(MEMLAB_MATRIX_GO) build -o $(MEMLAB_MATRIX_BIN) ./labs/cmd/memlab && \
	$(MEMLAB_MATRIX_BIN) matrix --go '$(MEMLAB_MATRIX_GO)' $(if $(KERNELS),--kernels '$(KERNELS)') \
	$(if $(MATRIX_LABELS),--label-filter '$(MATRIX_LABELS)') $(MATRIX_FLAGS)

# Do not steal the including Makefile's default goal; alone, default to matrix.
_memlab_matrix_saved_goal := $(.DEFAULT_GOAL)

SHARDS       ?=

.PHONY: matrix matrix-baseline matrix-merge
matrix:
	$(_memlab_matrix_run) --baseline $(MEMLAB_MATRIX_BASELINE)
matrix-baseline:
	$(_memlab_matrix_run) --write-baseline $(MEMLAB_MATRIX_BASELINE)
# The merge boots nothing: no root, no lock.
matrix-merge:
	@if [ -z '$(SHARDS)' ]; then echo "make matrix-merge: give SHARDS='DIR DIR...' (each the --out of a memlab matrix --shard run)" >&2; exit 64; fi
	cd $(MEMLAB_MATRIX_ROOT) && $(MEMLAB_MATRIX_GO) build -o $(MEMLAB_MATRIX_BIN) ./labs/cmd/memlab && \
	$(MEMLAB_MATRIX_BIN) merge --baseline $(MEMLAB_MATRIX_BASELINE) --out reports $(SHARDS)

ifneq ($(_memlab_matrix_saved_goal),)
.DEFAULT_GOAL := $(_memlab_matrix_saved_goal)
else ifneq ($(words $(MAKEFILE_LIST)),1)
# Included before any target: let the includer's next target be the default.
.DEFAULT_GOAL :=
endif
