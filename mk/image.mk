# mk/image.mk: the lab image memlab/stress:16.04.
# Included by the top-level Makefile; also runs alone:
#   make -f mk/image.mk image          build unless up to date (offline)
#   make -f mk/image.mk image-force    rebuild
#   make -f mk/image.mk image-remove   remove the image memlab built
#   MEMLAB_IMAGE_ONLINE=1 make ... image   FROM ubuntu:16.04 instead

# This file's directory, fixed now: MAKEFILE_LIST grows with each include.
MEMLAB_IMAGE_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MEMLAB_IMAGE_BUILD  := $(abspath $(MEMLAB_IMAGE_MK_DIR)/../labs/image/build.sh)

# Do not steal the including Makefile's default goal; alone, default to image.
_memlab_image_saved_goal := $(.DEFAULT_GOAL)

.PHONY: image image-force image-remove
image:
	$(MEMLAB_IMAGE_BUILD)
image-force:
	$(MEMLAB_IMAGE_BUILD) --force
image-remove:
	$(MEMLAB_IMAGE_BUILD) --remove

ifneq ($(_memlab_image_saved_goal),)
.DEFAULT_GOAL := $(_memlab_image_saved_goal)
else ifneq ($(words $(MAKEFILE_LIST)),1)
# Included before any target: let the includer's next target be the default.
.DEFAULT_GOAL :=
endif
