# mk/vm.mk: the student VMs (Vagrantfile, docs/student-vm.md), from the host.
# Included by the top-level Makefile; also runs alone (make -f mk/vm.mk ...):
#   make vm-labs [VM=xenial]   `sudo make labs` in that VM; its reports into ./reports
#   make vm-matrix             the labs in every VM that is up: reports/vm/VM/,
#                              and reports/vm-matrix.{md,json} (claims x VM and cgroup mode)
#   make labs-delegate         what `make labs` does on a host that is not a lab
#                              machine: vm-labs in a VM that is up, else one line on what to do
#   make lab-machine           says whether this machine runs the labs itself, and why not
#   make lint-vm               vagrant validate and shellcheck on the VM scripts
#   make test-vm               the delegation, against a fake vagrant (no VM, no root)
# Nothing here needs root on the host.

# This file's directory, fixed now: MAKEFILE_LIST grows with each include.
MEMLAB_VM_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MEMLAB_VM_ROOT   ?= $(abspath $(MEMLAB_VM_MK_DIR)/..)
MEMLAB_VM_SH     := $(MEMLAB_VM_MK_DIR)/../vagrant/vm.sh
MEMLAB_VM_GO     ?= go
VAGRANT          ?= vagrant
VM               ?= xenial

# A lab machine runs the labs itself: Linux, euid 0, and a cgroup filesystem
# with the memory controller (a v1 memory mount, or cgroup2 listing memory).
# Anything else delegates to a VM. Set MEMLAB_LAB_MACHINE=yes|no to force.
ifeq ($(origin MEMLAB_LAB_MACHINE),undefined)
MEMLAB_LAB_MACHINE := $(if $(filter yes,$(shell bash $(MEMLAB_VM_SH) lab-machine 2>/dev/null)),yes,no)
endif

_memlab_vm_env = VAGRANT='$(VAGRANT)' MEMLAB_VM_ROOT='$(MEMLAB_VM_ROOT)' GO='$(MEMLAB_VM_GO)' \
	LABEL_FILTER='$(LABEL_FILTER)'

# Do not steal the including Makefile's default goal; alone, default to vm-labs.
_memlab_vm_saved_goal := $(.DEFAULT_GOAL)

.PHONY: vm-labs vm-matrix labs-delegate lab-machine lint-vm test-vm
vm-labs: ## sudo make labs in the student VM (VM=xenial); its reports into ./reports
	@$(_memlab_vm_env) bash $(MEMLAB_VM_SH) labs '$(VM)'
vm-matrix: ## the labs in every VM that is up, merged into reports/vm-matrix.md
	@$(_memlab_vm_env) bash $(MEMLAB_VM_SH) matrix
# VM only when named (make labs VM=jammy); else xenial or the first VM up.
labs-delegate: ## what make labs does where this machine cannot run the labs
	@$(_memlab_vm_env) bash $(MEMLAB_VM_SH) delegate $(if $(filter command line environment,$(origin VM)),'$(VM)')
lab-machine: ## say whether this machine runs the labs itself, and why not
	@bash $(MEMLAB_VM_SH) lab-machine
lint-vm: ## vagrant validate and shellcheck on the VM scripts
	@$(_memlab_vm_env) bash $(MEMLAB_VM_SH) validate
	cd $(MEMLAB_VM_MK_DIR)/.. && shellcheck vagrant/*.sh test/vm/testdata/vagrant test/vm/testdata/guest/*
test-vm: ## the VM delegation, against a fake vagrant (no VM, no root)
	cd $(MEMLAB_VM_MK_DIR)/.. && $(MEMLAB_VM_GO) test -count=1 ./test/vm/ ./labs/matrix/

ifneq ($(_memlab_vm_saved_goal),)
.DEFAULT_GOAL := $(_memlab_vm_saved_goal)
else ifneq ($(words $(MAKEFILE_LIST)),1)
# Included before any target: let the includer's next target be the default.
.DEFAULT_GOAL :=
endif
