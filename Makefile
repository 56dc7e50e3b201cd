# hmalloc: one allocator, told in stages. See README.md.
#
#   make                      build every stage
#   make stage=N              build stage N only (N = 3 or 03)
#   make test [stage=N]       run the one suite against every stage (or stage N)
#   make demo                 build every stage and run the same workload on each
#   make diff stage=N         what stage N added to stage N-1
#   make diffstat             the size of every step
#   make matrix               the test-by-stage table (README.md shows it)

.DEFAULT_GOAL := all
SHELL := /bin/bash

STAGE_DIRS := $(sort $(wildcard stages/[0-9][0-9]-*))
ALL_NUMS   := $(foreach d,$(STAGE_DIRS),$(firstword $(subst -, ,$(notdir $(d)))))

# stage=3, stage=03 and stage=03-trimming-free all mean stage 03.
ifneq ($(strip $(stage)),)
  SEL_NUMS := $(shell printf '%02d' "$$(expr '$(firstword $(subst -, ,$(stage)))' + 0 2>/dev/null)")
  ifeq ($(filter $(SEL_NUMS),$(ALL_NUMS)),)
    $(error no stage $(stage): the stages are $(ALL_NUMS))
  endif
else
  SEL_NUMS := $(ALL_NUMS)
endif
stage_dir = $(filter stages/$(1)-%,$(STAGE_DIRS))
SEL_LIBS  := $(foreach n,$(SEL_NUMS),build/$(n)/libhmalloc.so)

include common/build.mk
$(foreach n,$(ALL_NUMS),$(eval $(call stage_rules,$(n),$(call stage_dir,$(n)))))

.PHONY: all clean diff diffstat
all: $(SEL_LIBS)

clean:
	rm -rf build

# Stage 01 is diffed against nothing: an empty folder.
diff:
	@[ -n "$(stage)" ] || { echo "usage: make diff stage=N"; exit 2; }
	@prev=$$(printf '%02d' $$(($$(expr $(SEL_NUMS) + 0) - 1))); \
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
-include tools/tools.mk
-include bench/bench.mk
