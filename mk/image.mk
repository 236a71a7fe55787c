# mk/image.mk: the lab image memlab/stress:16.04, built by `memlab docker image`.
# Included by the top-level Makefile; also runs alone:
#   make -f mk/image.mk image          build unless up to date (offline)
#   make -f mk/image.mk image-force    rebuild
#   make -f mk/image.mk image-remove   remove the image memlab built
#   make image MEMLAB_IMAGE_ONLINE=1   FROM ubuntu:16.04 instead (memlab docker image --online)

# This file's directory, fixed now: MAKEFILE_LIST grows with each include.
MEMLAB_IMAGE_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MEMLAB_IMAGE_ROOT   := $(abspath $(MEMLAB_IMAGE_MK_DIR)/..)
MEMLAB_IMAGE_GO     ?= go
MEMLAB_IMAGE_BIN    ?= bin/memlab
MEMLAB_IMAGE_ONLINE ?= 0

_memlab_image_run = cd $(MEMLAB_IMAGE_ROOT) && \
	$(MEMLAB_IMAGE_GO) build -o $(MEMLAB_IMAGE_BIN) ./labs/cmd/memlab && \
	$(MEMLAB_IMAGE_BIN) docker image

# Do not steal the including Makefile's default goal; alone, default to image.
_memlab_image_saved_goal := $(.DEFAULT_GOAL)

.PHONY: image image-force image-remove
image: ## build the lab image memlab/stress:16.04 offline, unless it is up to date
	$(_memlab_image_run) $(if $(filter 1,$(MEMLAB_IMAGE_ONLINE)),--online)
image-force: ## rebuild the lab image
	$(_memlab_image_run) --force $(if $(filter 1,$(MEMLAB_IMAGE_ONLINE)),--online)
image-remove: ## remove the lab image (only one memlab built)
	$(_memlab_image_run) --remove

ifneq ($(_memlab_image_saved_goal),)
.DEFAULT_GOAL := $(_memlab_image_saved_goal)
else ifneq ($(words $(MAKEFILE_LIST)),1)
# Included before any target: let the includer's next target be the default.
.DEFAULT_GOAL :=
endif
