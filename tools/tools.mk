# tools/tools.mk: programs that run the stages from outside (`make demo`).
# Included by the top-level Makefile.

TOOL_CXXFLAGS := -std=c++20 -O2 -g -Wall -Wextra -Werror -Icommon
TOOL_LDFLAGS  := -rdynamic -ldl

build/tools/demo: tools/demo.cpp common/demo_workload.hpp common/sbrk_double.cpp common/sbrk_double.h \
                  common/mmap_double.cpp common/mmap_double.h common/hmalloc_api.h
	@mkdir -p build/tools; $(call say,CXX,$@)
	$(Q)$(CXX) $(TOOL_CXXFLAGS) -o $@ tools/demo.cpp common/sbrk_double.cpp common/mmap_double.cpp $(TOOL_LDFLAGS)

.PHONY: demo
demo: $(SEL_LIBS) build/tools/demo
	@build/tools/demo $(foreach n,$(SEL_NUMS),$(notdir $(call stage_dir,$(n)))=build/$(n)/libhmalloc.so)

# JOURNAL.md's generated blocks: the demo's figures and the limitation tables.
.PHONY: journal-update journal-check
journal-update: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) build/tools/demo
	@tools/journal-sync --update
journal-check: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) build/tools/demo
	@tools/journal-sync --check

# make stage=N run CMD='...' runs a command with stage N as its malloc.
#
# CMD reaches bash exactly as typed: quotes, $, ;, | and newlines included.
# $(value CMD) is the text before make expands it (make would turn $HOME into
# the make variable $H followed by OME), and a target-specific exported
# variable hands it to the recipe through the environment, so neither make nor
# the recipe's shell re-reads it. CMD itself is not exported: make would expand
# it on the way. The only thing make changes is leading blanks, which it drops.
# Only a stage that defines malloc can be preloaded; the message names those
# that do (computed from the libraries, so a new stage is counted).
unexport CMD
defines_malloc = nm -D --defined-only $(1) 2>/dev/null | awk '$$3 == "malloc" { f = 1 } END { exit !f }'
.PHONY: run
run: export HM_RUN_CMD := $(value CMD)
run: $(ALL_LIBS)
	@if ! $(call defines_malloc,$(SEL_LIBS)); then \
	   can=; for n in $(ALL_NUMS); do $(call defines_malloc,build/$$n/libhmalloc.so) && can="$$can $$n"; done; \
	   echo "make run: stage $(SEL_NUMS) does not define malloc, so it cannot be preloaded." >&2; \
	   if [ -n "$$can" ]; then set -- $$can; echo "Stages that can:$$can (for example: make stage=$$1 run CMD='...')" >&2; \
	   else echo "No stage defines malloc yet." >&2; fi; \
	   exit 2; \
	 fi
	@LD_PRELOAD=$(abspath $(SEL_LIBS)) bash -c "$$HM_RUN_CMD"
