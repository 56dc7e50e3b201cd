# hmalloc: one allocator, told in stages. See README.md.
#
#   make                      build every stage
#   make stage=N              build stage N only (N = 3, 03 or 03-trimming-free)
#   make test [stage=N]       run the one suite against every stage (or stage N)
#   make demo                 build every stage and run the same workload on each
#   make diff stage=N         what stage N added to stage N-1
#   make diffstat             the size of every step
#   make matrix               the test-by-stage table (README.md shows it)
#   make stage=N run CMD=...  a command with stage N as its malloc
#   make stage=N heapmap [CMD=...]  the heap after the demo (or after a real command), as SVG
#   make check LIB=x.so [PREFIX=os_]  the one suite against any allocator, and its profile
#
# Builds print one line per library or program; V=1 prints the full commands.

.DEFAULT_GOAL := all
SHELL := /bin/bash

STAGE_DIRS  := $(sort $(wildcard stages/[0-9][0-9]-*))
STAGE_NAMES := $(notdir $(STAGE_DIRS))
ALL_NUMS    := $(foreach d,$(STAGE_NAMES),$(firstword $(subst -, ,$(d))))
space       := $(subst ,, )
ALL_LIBS    := $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so)

# stage= takes exactly one stage: N (3), NN (03) or the folder name
# (03-trimming-free). Anything else stops make before it builds anything, with
# the list of stages. Every target that takes stage= goes through this check.
stage_number = $(firstword $(filter $(1),$(ALL_NUMS)) \
                 $(filter 0$(filter 1 2 3 4 5 6 7 8 9,$(1)),$(ALL_NUMS)) \
                 $(foreach d,$(filter $(1),$(STAGE_NAMES)),$(firstword $(subst -, ,$(d)))))
ifneq ($(origin stage),undefined)
  SEL_NUMS := $(if $(or $(findstring %,$(stage)),$(findstring \,$(stage)),$(word 2,$(stage))),,$(call stage_number,$(stage)))
  ifeq ($(SEL_NUMS),)
    $(info stage='$(stage)' is not a stage. stage= takes one stage, as N, NN or its folder name:)
    $(foreach d,$(STAGE_NAMES),$(info $(space)  $(patsubst 0%,%,$(firstword $(subst -, ,$(d)))), $(firstword $(subst -, ,$(d))) or $(d)))
    $(error no such stage: '$(stage)')
  endif
else
  SEL_NUMS := $(ALL_NUMS)
endif
stage_dir = $(filter stages/$(1)-%,$(STAGE_DIRS))
SEL_LIBS  := $(foreach n,$(SEL_NUMS),build/$(n)/libhmalloc.so)

# Targets that need stage= (or CMD=) say so before anything is built.
needs_stage = $(if $(filter $(1),$(MAKECMDGOALS)),$(if $(filter undefined,$(origin stage)),$(error usage: $(2))))
$(call needs_stage,diff,make diff stage=N)
$(call needs_stage,run,make stage=N run CMD='command')
$(call needs_stage,heapmap,make stage=N heapmap [CMD='command'] (or make heapmaps for every stage))
ifneq ($(filter run,$(MAKECMDGOALS)),)
  ifeq ($(strip $(value CMD)),)
    $(error usage: make stage=N run CMD='command')
  endif
endif

include common/build.mk
$(foreach n,$(ALL_NUMS),$(eval $(call stage_rules,$(n),$(call stage_dir,$(n)))))

.PHONY: all clean diff diffstat
all: $(SEL_LIBS)

clean:
	rm -rf build

# Stage 01 is diffed against nothing: an empty folder.
diff:
	@prev=$$(printf '%02d' $$((10#$(SEL_NUMS) - 1))); \
	 old=$$(ls -d stages/$$prev-* 2>/dev/null || true); \
	 if [ -z "$$old" ]; then old=build/empty; mkdir -p $$old; fi; \
	 diff -ruN "$$old" $(call stage_dir,$(SEL_NUMS)) || true

diffstat:
	@prev=build/empty; mkdir -p $$prev; \
	 for d in $(STAGE_DIRS); do \
	   printf '%-24s ' "$$(basename $$d)"; \
	   diff -ruN "$$prev" "$$d" | awk '/^\+[^+]/ || /^\+$$/ {a++} /^-[^-]/ || /^-$$/ {r++} \
	     /^diff / {f++} END {printf "%3d files  +%-4d -%d\n", f, a, r}'; \
	   prev=$$d; \
	 done

-include tests/tests.mk
-include tests/check/check.mk
-include tools/tools.mk
-include bench/bench.mk
