# tools/tools.mk: programs that run the stages from outside (`make demo`).
# Included by the top-level Makefile.

TOOL_CXXFLAGS := -std=c++20 -O2 -g -Wall -Wextra -Werror -Icommon
TOOL_LDFLAGS  := -rdynamic -ldl

build/tools/demo: tools/demo.cpp common/demo_workload.hpp common/sbrk_double.cpp common/sbrk_double.h \
                  common/mmap_double.cpp common/mmap_double.h common/hmalloc_api.h
	@mkdir -p build/tools
	$(CXX) $(TOOL_CXXFLAGS) -o $@ tools/demo.cpp common/sbrk_double.cpp common/mmap_double.cpp $(TOOL_LDFLAGS)

.PHONY: demo
demo: $(SEL_LIBS) build/tools/demo
	@build/tools/demo $(foreach n,$(SEL_NUMS),$(notdir $(call stage_dir,$(n)))=build/$(n)/libhmalloc.so)

# JOURNAL.md's generated blocks: the demo's figures and the limitation tables.
.PHONY: journal-update journal-check
journal-update: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) build/tools/demo
	@tools/journal-sync --update
journal-check: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) build/tools/demo
	@tools/journal-sync --check

# make stage=N run CMD="..." runs a command with stage N as its malloc.
.PHONY: run
run: $(SEL_LIBS)
	@[ -n "$(stage)" ] && [ -n "$(CMD)" ] || { echo 'usage: make stage=N run CMD="command"'; exit 2; }
	@nm -D --defined-only $(SEL_LIBS) | grep -qw malloc || \
	  { echo "stage $(SEL_NUMS) does not define malloc: only stage 07 on can be preloaded"; exit 2; }
	@LD_PRELOAD=$(abspath $(SEL_LIBS)) bash -c "$$CMD"
